// Which page is asking, taken from what the browser says about the sender (never from the
// message), and whether it may ask at all.

import { CpxError, ExtensionErrorCode } from "../shared/errors.js";

/**
 * The origin of a content-script sender, or a CpxError when the sender is not a top-level page
 * of ours over https.
 * @param {chrome.runtime.MessageSender} sender
 * @param {string} ownId runtime.id
 * @returns {string}
 */
export function pageOriginOf(sender, ownId) {
  if (sender.id !== ownId || !sender.tab || typeof sender.tab.id !== "number") {
    throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "not a message from a page of this browser");
  }
  if (sender.frameId !== undefined && sender.frameId !== 0) {
    throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "only the top frame of a tab may ask");
  }
  let origin = sender.origin;
  if (!origin || origin === "null") {
    if (!sender.url) throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "the browser gave no sender address");
    origin = new URL(sender.url).origin;
  }
  if (!isHttpsOrigin(origin)) {
    throw new CpxError(ExtensionErrorCode.INSECURE_CONTEXT, `card login needs an https page, not ${origin}`);
  }
  return origin;
}

/** @param {string} origin */
export function isHttpsOrigin(origin) {
  try {
    const url = new URL(origin);
    return url.protocol === "https:" && url.origin === origin;
  } catch {
    return false;
  }
}

/**
 * Whether `origin` is allowed by the administrator's `allowedOrigins` list. An empty or absent
 * list allows every https origin. Entries are exact origins (`https://portail.example.fr`,
 * port included when not 443) or a subdomain wildcard (`https://*.example.fr`, which does not
 * match `https://example.fr` itself).
 * @param {string} origin
 * @param {readonly unknown[] | undefined} allowedOrigins
 */
export function isOriginAllowed(origin, allowedOrigins) {
  if (!Array.isArray(allowedOrigins) || allowedOrigins.length === 0) return true;
  const page = new URL(origin);
  return allowedOrigins.some((entry) => {
    if (typeof entry !== "string") return false;
    const wildcard = /^https:\/\/\*\.([^/:]+)(:\d+)?\/?$/i.exec(entry.trim());
    if (wildcard) {
      const [, domain, port = ""] = wildcard;
      return page.protocol === "https:" && page.hostname.endsWith(`.${domain.toLowerCase()}`) && (port === "" ? page.port === "" : `:${page.port}` === port);
    }
    try {
      return new URL(entry.trim()).origin === origin;
    } catch {
      return false;
    }
  });
}

/**
 * The managed `allowedOrigins` list, or undefined when no policy sets it.
 * @param {typeof chrome} api
 * @returns {Promise<unknown[] | undefined>}
 */
export async function readAllowedOrigins(api) {
  try {
    const managed = await api.storage.managed.get("allowedOrigins");
    const list = managed?.allowedOrigins;
    return Array.isArray(list) ? list : undefined;
  } catch {
    // Firefox rejects when no policy and no managed-storage manifest exist: nothing is managed.
    return undefined;
  }
}

/**
 * Refuses the origin with ERR_ORIGIN_NOT_ALLOWED when a policy excludes it.
 * @param {typeof chrome} api
 * @param {string} origin
 */
export async function checkOriginPolicy(api, origin) {
  const allowed = await readAllowedOrigins(api);
  if (!isOriginAllowed(origin, allowed)) {
    throw new CpxError(ExtensionErrorCode.ORIGIN_NOT_ALLOWED, `${origin} is not in the allowedOrigins policy`);
  }
}
