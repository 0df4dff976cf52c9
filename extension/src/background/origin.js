// Which page is asking, taken from what the browser says about the sender (never from the
// message), whether it may ask at all (the administrator's `allowedOrigins`), and the checks the
// host will make on what the page sends, done here before any PIN window opens.

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
  // "null" is an opaque origin (a sandboxed document, a data: URL): the page has no origin a
  // token could be bound to, and its URL's origin is not its own. Refused, never replaced.
  if (sender.origin === "null") {
    throw new CpxError(ExtensionErrorCode.INSECURE_CONTEXT, "a page with an opaque origin cannot ask for a card login");
  }
  let origin = sender.origin;
  if (!origin) {
    // Firefox gives no sender.origin; the top frame's URL is then the only word of the browser.
    if (!sender.url) throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "the browser gave no sender address");
    try {
      origin = new URL(sender.url).origin;
    } catch {
      throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "the browser gave an unreadable sender address");
    }
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

// ---- what the host checks (host/src/token.rs), checked here before the PIN is typed ----

const MAX_ORIGIN_LENGTH = 255;
const NONCE_LENGTH = { min: 44, max: 128 };
const BASE64_VALUE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * The host's `Origin::parse`: `https://host[:port]`, lower-case ASCII labels (punycode for IDNs)
 * or an IPv4 / bracketed IPv6 address, a port of 1 to 65535 without leading zero, at most 255
 * characters.
 * @param {unknown} origin
 */
export function isHostAcceptedOrigin(origin) {
  if (typeof origin !== "string" || origin.length > MAX_ORIGIN_LENGTH || !origin.startsWith("https://")) return false;
  const authority = origin.slice("https://".length);
  let hostOk;
  /** @type {string | undefined} */
  let port;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return false;
    const address = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) return false;
    port = after === "" ? undefined : after.slice(1);
    hostOk = /^[0-9a-f:.]+$/i.test(address) && address.includes(":") && isIpv6(address);
  } else {
    const colon = authority.indexOf(":");
    const host = colon < 0 ? authority : authority.slice(0, colon);
    port = colon < 0 ? undefined : authority.slice(colon + 1);
    hostOk =
      host.length > 0 &&
      host.split(".").every((label) => label.length > 0 && label.length <= 63 && /^[a-z0-9-]+$/.test(label) && !label.startsWith("-") && !label.endsWith("-"));
  }
  const portOk = port === undefined || (/^[1-9][0-9]{0,4}$/.test(port) && Number(port) <= 65535);
  return hostOk && portOk;
}

/** @param {string} address */
function isIpv6(address) {
  try {
    return new URL(`https://[${address}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * The host's `ChallengeNonce::parse`: 44 to 128 characters of standard base64 with canonical
 * padding (the `base64` crate's STANDARD engine: padding required, no stray bits).
 * @param {unknown} nonce
 */
export function isHostAcceptedNonce(nonce) {
  if (typeof nonce !== "string" || nonce.length < NONCE_LENGTH.min || nonce.length > NONCE_LENGTH.max) return false;
  if (nonce.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(nonce)) return false;
  const padding = nonce.endsWith("==") ? 2 : nonce.endsWith("=") ? 1 : 0;
  if (padding === 0) return true;
  // The last data character must not carry bits beyond the decoded bytes.
  const last = BASE64_VALUE.indexOf(nonce[nonce.length - padding - 1]);
  return padding === 2 ? (last & 0b1111) === 0 : (last & 0b11) === 0;
}

// ---- allowedOrigins ----

/**
 * @typedef {{ kind: "exact", origin: string } | { kind: "subdomains", domain: string, port: string }} OriginPattern
 * @typedef {{ entry: unknown, pattern?: OriginPattern, problem?: string }} ParsedEntry
 */

/**
 * One `allowedOrigins` entry. Accepted forms: `https://host[:port]` and `https://*.domain[:port]`
 * (a trailing `/` is tolerated); the default port 443 is the same as no port, and a Unicode
 * (IDN) host is compared in its punycode form, as browsers report origins. Anything else (a path
 * such as `/*`, Chrome's `[*.]domain`, another scheme, a wildcard elsewhere) is refused with the
 * reason, so that the popup and `cpx-connect doctor` can show it: it never silently matches.
 * @param {unknown} entry
 * @returns {ParsedEntry}
 */
export function parseOriginPattern(entry) {
  if (typeof entry !== "string") return { entry, problem: "not a string" };
  const text = entry.trim();
  const match = /^https:\/\/(\*\.)?([^/?#@\s]+)\/?$/i.exec(text);
  if (!match) {
    return { entry, problem: "expected https://host[:port] or https://*.domain, with no path" };
  }
  const [, wildcard, authority] = match;
  if (authority.includes("*")) {
    return { entry, problem: "a wildcard is allowed only as the first label: https://*.domain" };
  }
  if (wildcard && authority.startsWith("[")) return { entry, problem: "a wildcard needs a domain name" };
  let url;
  try {
    url = new URL(`https://${authority}/`);
  } catch {
    return { entry, problem: "not a valid host name" };
  }
  // URL keeps an explicit :443 out of `port`, lower-cases and punycodes the host name.
  if (wildcard) {
    if (!url.hostname.includes(".") && !url.hostname.startsWith("[")) {
      return { entry, problem: "a wildcard needs a domain with at least two labels" };
    }
    return { entry, pattern: { kind: "subdomains", domain: url.hostname, port: url.port } };
  }
  return { entry, pattern: { kind: "exact", origin: url.origin } };
}

/**
 * @param {string} origin a page origin as the browser reports it
 * @param {OriginPattern} pattern
 */
function matches(origin, pattern) {
  if (pattern.kind === "exact") return pattern.origin === origin;
  const page = new URL(origin);
  return page.protocol === "https:" && page.hostname.endsWith(`.${pattern.domain}`) && page.port === pattern.port;
}

/**
 * The policy as the extension understands it:
 * - `unset`: no policy sets allowedOrigins: every https site may ask;
 * - `list`: an array; only its valid entries allow anything (an empty array allows nothing);
 * - `malformed`: set to something that is not an array (Firefox does no schema check), or
 *   unreadable: every site is refused.
 * @typedef {{ state: "unset" } | { state: "list", entries: ParsedEntry[] } | { state: "malformed", reason: string }} OriginPolicy
 */

/**
 * @param {unknown} value the managed `allowedOrigins`, undefined when absent
 * @returns {OriginPolicy}
 */
export function policyFrom(value) {
  // Only an absent policy is "unset": `null` (Firefox takes it from policies.json unchecked) is a
  // policy an administrator wrote, and a malformed one refuses every site, as doctor says.
  if (value === undefined) return { state: "unset" };
  if (!Array.isArray(value)) {
    return { state: "malformed", reason: `allowedOrigins must be a list, not ${value === null ? "null" : typeof value}` };
  }
  return { state: "list", entries: value.map(parseOriginPattern) };
}

/**
 * Whether `origin` is allowed under `policy`.
 * @param {string} origin
 * @param {OriginPolicy} policy
 */
export function isOriginAllowed(origin, policy) {
  if (policy.state === "unset") return true;
  if (policy.state === "malformed") return false;
  return policy.entries.some(({ pattern }) => pattern !== undefined && matches(origin, pattern));
}

/** Where the last policy read is remembered (storage.local), and for how long an empty read at
 * startup is taken for "not loaded yet" rather than "removed". */
export const POLICY_MEMORY_KEY = "lastAllowedOrigins";
export const STARTUP_GRACE_MS = 60_000;

/**
 * Reads the managed policy. Chrome may answer `{}` before it has loaded policies at startup
 * (w3c/webextensions#547): while the background is younger than STARTUP_GRACE_MS, an empty read
 * falls back to the last policy seen, kept in storage.local. Later, an empty read means the
 * administrator removed the policy and the memory is cleared.
 * @param {typeof chrome} api
 * @param {{ startedAt: number, now?: () => number }} clock
 * @returns {Promise<OriginPolicy>}
 */
export async function readOriginPolicy(api, { startedAt, now = Date.now }) {
  /** @type {unknown} */
  let value;
  let readFailed = "";
  try {
    const managed = await api.storage.managed.get("allowedOrigins");
    value = managed?.allowedOrigins;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Firefox rejects this way when no policy and no managed-storage manifest exist: nothing is
    // managed. Any other failure is a read error.
    if (!/managed storage manifest not found/i.test(message)) readFailed = message;
  }
  const remembered = await recall(api);
  if (readFailed) {
    return remembered !== undefined ? policyFrom(remembered) : { state: "malformed", reason: `cannot read the policy: ${readFailed}` };
  }
  if (value === undefined) {
    if (remembered !== undefined && now() - startedAt < STARTUP_GRACE_MS) return policyFrom(remembered);
    if (remembered !== undefined) await remember(api, undefined);
    return { state: "unset" };
  }
  if (JSON.stringify(value) !== JSON.stringify(remembered)) await remember(api, value);
  return policyFrom(value);
}

/** @param {typeof chrome} api @returns {Promise<unknown>} */
async function recall(api) {
  try {
    const stored = await api.storage.local.get(POLICY_MEMORY_KEY);
    return stored?.[POLICY_MEMORY_KEY];
  } catch {
    return undefined;
  }
}

/** @param {typeof chrome} api @param {unknown} value */
async function remember(api, value) {
  try {
    if (value === undefined) await api.storage.local.remove(POLICY_MEMORY_KEY);
    else await api.storage.local.set({ [POLICY_MEMORY_KEY]: value });
  } catch {
    // Memory is a help at startup only; the managed value read now is what counts.
  }
}

/**
 * Refuses the origin with ERR_ORIGIN_NOT_ALLOWED when the policy excludes it.
 * @param {OriginPolicy} policy
 * @param {string} origin
 */
export function checkOriginPolicy(policy, origin) {
  if (!isOriginAllowed(origin, policy)) {
    const why = policy.state === "malformed" ? ` (the allowedOrigins policy is malformed: ${policy.reason})` : "";
    throw new CpxError(ExtensionErrorCode.ORIGIN_NOT_ALLOWED, `${origin} is not in the allowedOrigins policy${why}`);
  }
}
