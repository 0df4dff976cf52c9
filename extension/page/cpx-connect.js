// CPx Connect page library: log in with a CPx card (CPS, CPE, CPF) from a web page.
// Serve this file from your own site and import it as an ES module:
//
//   import { authenticate } from "/static/cpx-connect.js";
//   const token = await authenticate(nonceFromYourServer, { lang: "fr" });
//
// Every failure is an Error whose `.code` is a stable string (see README.md next to this file).
// It talks to the CPx Connect extension's content script with window.postMessage; the PIN is
// typed in the extension's own window, never in the page.

const ACK_TIMEOUT_MS = 1_500;
const DEFAULT_STATUS_TIMEOUT_MS = 20_000;
/** The PIN window waits two minutes; leave room for the card to sign after it. */
const DEFAULT_AUTHENTICATE_TIMEOUT_MS = 180_000;
/** The extension enforces the page's timeout on the PIN wait; this margin lets its answer arrive first. */
const ANSWER_GRACE_MS = 5_000;

/**
 * @typedef {object} WebEidToken
 * @property {"web-eid:1.0"} format
 * @property {string} unverifiedCertificate base64 DER
 * @property {string} algorithm e.g. "RS256"
 * @property {string} signature base64
 * @property {string} appVersion
 */

/**
 * @typedef {object} CpxStatus
 * @property {{ version: string }} extension
 * @property {{ version: string, protocol: number }} host
 * @property {boolean} [ready] whether a login can start now (the PC/SC service runs and a CPx card
 *   is in a reader). Given only to a site the administrator lists in `allowedOrigins`, or to a
 *   visible page that calls status() from a user's click; other pages get the versions only.
 *   Which readers and cards, only the extension's toolbar popup shows
 */

/** An error with a stable `code` (`ERR_...`). */
export class CpxConnectError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [details] e.g. `retriesLeft`
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "CpxConnectError";
    this.code = code;
    for (const [key, value] of Object.entries(details)) {
      if (key !== "code" && key !== "message") /** @type {any} */ (this)[key] = value;
    }
  }
}

/**
 * Versions of the extension and of the native host, and whether a login can start now.
 * @param {{ timeout?: number }} [options]
 * @returns {Promise<CpxStatus>}
 */
export function status({ timeout = DEFAULT_STATUS_TIMEOUT_MS } = {}) {
  return exchange("cpx-connect:status", {}, timeout);
}

/**
 * Asks the user to log in with their card: the extension shows its PIN window, the card signs
 * the nonce bound to this page's origin, and the promise resolves to the token to post to your
 * server. Call it from a click (or key press) handler in the visible page: without that user
 * gesture the extension refuses with ERR_USER_ACTIVATION_REQUIRED (the browser keeps a click
 * "active" for a few seconds, enough to fetch the nonce first).
 * @param {string} challengeNonce the nonce your server issued (base64, 44 to 128 characters)
 * @param {{ lang?: "fr" | "en", timeout?: number }} [options] `timeout` in ms bounds the whole operation
 *   (at least 10 000)
 * @returns {Promise<WebEidToken>}
 */
export function authenticate(challengeNonce, { lang, timeout = DEFAULT_AUTHENTICATE_TIMEOUT_MS } = {}) {
  return exchange("cpx-connect:authenticate", { challengeNonce, lang, timeout }, timeout + ANSWER_GRACE_MS);
}

/**
 * @param {string} action
 * @param {Record<string, unknown>} fields
 * @param {number} timeoutMs
 * @returns {Promise<any>}
 */
function exchange(action, fields, timeoutMs) {
  return new Promise((resolve, reject) => {
    if (!window.isSecureContext || window.location.protocol !== "https:") {
      reject(new CpxConnectError("ERR_INSECURE_CONTEXT", "card login needs a page served over https"));
      return;
    }
    // A sandboxed document (CSP `sandbox`, an iframe's sandbox attribute) has an opaque origin:
    // no origin a token could be bound to, and no way to reach the extension's content script.
    if (window.origin === "null") {
      reject(new CpxConnectError("ERR_INSECURE_CONTEXT", "a sandboxed page (opaque origin) cannot ask for a card login"));
      return;
    }
    const requestId = crypto.randomUUID();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;

    /** @param {unknown} value @param {Error | null} error */
    const finish = (value, error) => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      if (error) reject(error);
      else resolve(value);
    };

    /** @param {MessageEvent} event */
    const onMessage = (event) => {
      if (event.source !== window || event.origin !== window.location.origin) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.requestId !== requestId) return;
      if (data.action === `${action}-ack`) {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(null, new CpxConnectError("ERR_TIMEOUT", "the extension did not answer in time")),
          timeoutMs,
        );
      } else if (data.action === `${action}-success`) {
        finish(data.result, null);
      } else if (data.action === `${action}-failure`) {
        const { code, message, ...details } = data.error ?? {};
        finish(null, new CpxConnectError(typeof code === "string" ? code : "ERR_INTERNAL", typeof message === "string" ? message : "card login failed", details));
      }
    };

    window.addEventListener("message", onMessage);
    timer = setTimeout(
      () => finish(null, new CpxConnectError("ERR_EXTENSION_UNAVAILABLE", "the CPx Connect extension is not installed or not enabled")),
      ACK_TIMEOUT_MS,
    );
    window.postMessage({ action, requestId, ...fields }, window.location.origin);
  });
}
