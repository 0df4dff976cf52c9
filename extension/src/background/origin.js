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
  // Chromium 80+ and Firefox 126+ give sender.origin (our minimum is 142). Without it the only
  // other clue is the URL, whose origin is not the document's (a sandboxed page has an opaque
  // origin under an https URL): refused, never guessed.
  const origin = sender.origin;
  if (typeof origin !== "string" || origin === "") {
    throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "the browser gave no sender origin");
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

// ---- the administrator's policy: allowedOrigins and restrictOrigins ----

/** The managed keys this extension knows (managed_schema.json); any other key refuses every site. */
export const MANAGED_KEYS = Object.freeze(["allowedOrigins", "restrictOrigins"]);

/**
 * @typedef {{ kind: "exact", origin: string } | { kind: "subdomains", domain: string, port: string }} OriginPattern
 * @typedef {{ entry: unknown, pattern?: OriginPattern, shown?: string, problem?: string }} ParsedEntry
 */

/**
 * One `allowedOrigins` entry. Accepted forms: `https://host[:port]` and `https://*.domain[:port]`
 * (a trailing `/` is tolerated); the default port 443 is the same as no port, letters are
 * compared in lower case and a Unicode (IDN) label in its punycode form, as browsers report
 * origins. Anything else is refused with the reason, so that the popup and `cpx-connect doctor`
 * can show it: a path such as `/*`, Chrome's `[*.]domain`, another scheme, a wildcard elsewhere,
 * userinfo, a query or fragment, a `\` or `%` in the host, or a host the URL parser would turn
 * into another one (`https://evil.com\.good.fr` is `https://evil.com` to it).
 * `shown` is the origin as it is matched, for the popup.
 * @param {unknown} entry
 * @returns {ParsedEntry}
 */
export function parseOriginPattern(entry) {
  if (typeof entry !== "string") return { entry, problem: "not a string" };
  const text = entry.trim();
  if (/[\\%]/.test(text)) return { entry, problem: "a \\ or % has no place in an origin (the browser would read another host)" };
  const match = /^https:\/\/(\*\.)?([^/?#@\s]+)\/?$/i.exec(text);
  if (!match) {
    return { entry, problem: "expected https://host[:port] or https://*.domain, with no user, path, query or fragment" };
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
  const written = splitAuthority(authority);
  if (!written || !sameHost(written.host, url.hostname) || !samePort(written.port, url.port)) {
    return { entry, problem: `the browser reads it as ${wildcard ? "https://*." + url.host : url.origin}, not as written` };
  }
  if (wildcard) {
    if (!url.hostname.includes(".")) {
      return { entry, problem: "a wildcard needs a domain with at least two labels" };
    }
    return { entry, shown: `https://*.${url.host}`, pattern: { kind: "subdomains", domain: url.hostname, port: url.port } };
  }
  return { entry, shown: url.origin, pattern: { kind: "exact", origin: url.origin } };
}

/** @param {string} authority @returns {{ host: string, port: string | undefined } | undefined} */
function splitAuthority(authority) {
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return undefined;
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) return undefined;
    return { host: authority.slice(0, close + 1), port: after === "" ? undefined : after.slice(1) };
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 ? { host: authority, port: undefined } : { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}

/**
 * Whether the parser kept the written host: the same labels, each the same in lower case, or,
 * for a label with non-ASCII letters, its punycode form. A dot-like character, an IPv4 shorthand
 * (`0x7f.1`) or a character the parser drops changes the labels and is refused.
 * @param {string} written
 * @param {string} parsed
 */
function sameHost(written, parsed) {
  if (written.startsWith("[")) return written.toLowerCase() === parsed || /^\[[0-9a-f:.]+\]$/i.test(written);
  const mine = written.split(".");
  const theirs = parsed.split(".");
  if (mine.length !== theirs.length) return false;
  return mine.every((label, index) =>
    /^[\x21-\x7e]*$/.test(label) ? label.toLowerCase() === theirs[index] : theirs[index].startsWith("xn--"),
  );
}

/** @param {string | undefined} written @param {string} parsed URL.port: "" for the default port */
function samePort(written, parsed) {
  if (written === undefined) return parsed === "";
  return written === parsed || (written === "443" && parsed === "");
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
 * The policy as the extension understands it, from every managed key it was given:
 * - `unset`: no managed key at all (or `restrictOrigins: false` alone): every https site may ask;
 * - `list`: a valid `allowedOrigins`: only its origins may ask (an empty list: none);
 * - `malformed`: anything wrong (an unknown or miscased key, a value of the wrong type, one
 *   invalid entry, `restrictOrigins: true` with no list, or an unreadable policy): every site is
 *   refused, and `reason` says what is wrong. Chromium drops values that break
 *   managed_schema.json before the extension sees them, so there a mistyped list only shows as
 *   `restrictOrigins: true` without a list; Firefox passes everything through.
 * @typedef {{ state: "unset" } | { state: "list", entries: ParsedEntry[], restricted: boolean }
 *   | { state: "malformed", reason: string, entries?: ParsedEntry[] }} OriginPolicy
 */

/**
 * @param {unknown} managed everything storage.managed.get(null) gave (undefined or {}: nothing)
 * @returns {OriginPolicy}
 */
export function policyFrom(managed) {
  if (managed === undefined || managed === null) return { state: "unset" };
  if (typeof managed !== "object" || Array.isArray(managed)) {
    return { state: "malformed", reason: "the managed settings are not an object" };
  }
  const settings = /** @type {Record<string, unknown>} */ (managed);
  const unknown = Object.keys(settings).filter((key) => !MANAGED_KEYS.includes(key));
  if (unknown.length > 0) {
    const known = unknown.map((key) => {
      const meant = MANAGED_KEYS.find((name) => name.toLowerCase() === key.toLowerCase());
      return meant ? `${key} (did you mean ${meant}?)` : key;
    });
    return { state: "malformed", reason: `unknown policy key ${known.join(", ")}` };
  }
  const { allowedOrigins, restrictOrigins } = settings;
  if (restrictOrigins !== undefined && typeof restrictOrigins !== "boolean") {
    return { state: "malformed", reason: `restrictOrigins must be true or false, not ${describe(restrictOrigins)}` };
  }
  if (allowedOrigins === undefined) {
    if (restrictOrigins === true) {
      return { state: "malformed", reason: "restrictOrigins is true but no valid allowedOrigins list reached the extension" };
    }
    return { state: "unset" };
  }
  if (!Array.isArray(allowedOrigins)) {
    return { state: "malformed", reason: `allowedOrigins must be a list, not ${describe(allowedOrigins)}` };
  }
  const entries = allowedOrigins.map(parseOriginPattern);
  const invalid = entries.filter((entry) => !entry.pattern);
  if (invalid.length > 0) {
    return { state: "malformed", reason: `allowedOrigins has ${invalid.length === 1 ? "an invalid entry" : `${invalid.length} invalid entries`}`, entries };
  }
  if (entries.length === 0 && restrictOrigins === true) {
    return { state: "malformed", reason: "restrictOrigins is true but allowedOrigins is empty", entries };
  }
  return { state: "list", entries, restricted: restrictOrigins === true };
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "string" ? `the text ${JSON.stringify(value)}` : typeof value;
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

/**
 * Whether the administrator named this origin (a valid list that matches it): such a site may
 * learn from `status` whether a card is in a reader.
 * @param {string} origin
 * @param {OriginPolicy} policy
 */
export function isOriginListed(origin, policy) {
  return policy.state === "list" && isOriginAllowed(origin, policy);
}

/** Where the last policy read is remembered (storage.local), and for how long an empty read at
 * startup is taken for "not loaded yet" rather than "removed". */
export const POLICY_MEMORY_KEY = "lastManagedPolicy";
export const STARTUP_GRACE_MS = 60_000;

/**
 * Reads every managed key (not only the known ones: a miscased or unknown key must be seen to be
 * refused). Chrome may answer `{}` before it has loaded policies at startup
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
    value = await api.storage.managed.get(null);
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
  const empty = value === undefined || value === null || (typeof value === "object" && Object.keys(value).length === 0);
  if (empty) {
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
    const message =
      policy.state === "malformed"
        ? `the administrator's policy refuses every site until it is fixed: ${policy.reason}`
        : `${origin} is not in the allowedOrigins policy`;
    throw new CpxError(ExtensionErrorCode.ORIGIN_NOT_ALLOWED, message);
  }
}
