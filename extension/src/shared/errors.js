// Error codes shared by the background, the PIN window and the content script.
// The host's codes (DESIGN.md, protocol 1) pass through unchanged; the codes below are the
// extension's own. They are part of the page library's API: append only, never rename.

/** @typedef {{ code: string, message: string, retriesLeft?: number, sw?: string, field?: string, cardState?: string }} WireError */

export const ExtensionErrorCode = Object.freeze({
  /** No native host manifest, or the host exited before answering the `version` handshake. */
  HOST_NOT_INSTALLED: "ERR_HOST_NOT_INSTALLED",
  /** The host answered the handshake with another protocol, or sent a message we cannot read. */
  HOST_INCOMPATIBLE: "ERR_HOST_INCOMPATIBLE",
  /** The host answered the handshake, then exited with requests still waiting. */
  HOST_CRASHED: "ERR_HOST_CRASHED",
  /** The host did not answer within the time allowed for that command. */
  TIMEOUT: "ERR_TIMEOUT",
  /** The user closed the PIN window or pressed "Annuler". */
  USER_CANCELLED: "ERR_USER_CANCELLED",
  /** The PIN window got no PIN in time and was closed. */
  PIN_TIMEOUT: "ERR_PIN_TIMEOUT",
  /** A managed policy lists allowed origins and this page's origin is not one of them. */
  ORIGIN_NOT_ALLOWED: "ERR_ORIGIN_NOT_ALLOWED",
  /** The page is not served over https. */
  INSECURE_CONTEXT: "ERR_INSECURE_CONTEXT",
  /** This tab already has an operation under way. */
  BUSY: "ERR_BUSY",
  /** The page's message is malformed (names the field). */
  INVALID_REQUEST: "ERR_INVALID_REQUEST",
  /** Anything unexpected inside the extension. */
  INTERNAL: "ERR_INTERNAL",
  /** authenticate() was not called from a user's click in a visible page of the active tab of the focused window. */
  USER_ACTIVATION_REQUIRED: "ERR_USER_ACTIVATION_REQUIRED",
});

/**
 * The host's error codes (protocol 1), a copy of the host's `ErrorCode` (host/src/protocol/wire.rs):
 * host/tests/error_codes.rs fails when the two differ. Same codes, same order.
 */
export const HOST_ERROR_CODES = Object.freeze([
  "ERR_INVALID_REQUEST",
  "ERR_UNKNOWN_COMMAND",
  "ERR_ORIGIN_INVALID",
  "ERR_NONCE_INVALID",
  "ERR_PCSC_UNAVAILABLE",
  "ERR_NO_READER",
  "ERR_NO_CARD",
  "ERR_CARD_UNSUPPORTED",
  "ERR_CERTIFICATE_NOT_FOUND",
  "ERR_CARD_REMOVED",
  "ERR_PIN_REQUIRED",
  "ERR_PIN_FORMAT",
  "ERR_PIN_INCORRECT",
  "ERR_PIN_BLOCKED",
  "ERR_CARD_ERROR",
  "ERR_INTERNAL",
]);

/** Only the page library makes this one: no extension answered. */
export const PAGE_LIBRARY_ERROR_CODES = Object.freeze(["ERR_EXTENSION_UNAVAILABLE"]);

/** Fields of a host error that may travel on to the page; anything else is dropped. */
const FORWARDED_DETAILS = ["retriesLeft", "sw", "field", "cardState"];

export class CpxError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "CpxError";
    this.code = code;
    /** @type {Record<string, string | number>} */
    this.details = {};
    for (const key of FORWARDED_DETAILS) {
      const value = details[key];
      if (typeof value === "string" || typeof value === "number") this.details[key] = value;
    }
  }

  /** @returns {WireError} */
  toWire() {
    return { code: this.code, message: this.message, ...this.details };
  }

  /**
   * An error from the host's `error` member, keeping only its code, message and known details.
   * @param {unknown} hostError
   */
  static fromHost(hostError) {
    if (!hostError || typeof hostError !== "object") {
      return new CpxError(ExtensionErrorCode.HOST_INCOMPATIBLE, "the host sent an error without a body");
    }
    const { code, message } = /** @type {Record<string, unknown>} */ (hostError);
    if (typeof code !== "string" || !/^ERR_[A-Z_]+$/.test(code)) {
      return new CpxError(ExtensionErrorCode.HOST_INCOMPATIBLE, "the host sent an error without a valid code");
    }
    return new CpxError(code, typeof message === "string" ? message : code, /** @type {Record<string, unknown>} */ (hostError));
  }
}

/**
 * Any thrown value as a wire error; unexpected ones become ERR_INTERNAL.
 * @param {unknown} error
 * @returns {WireError}
 */
export function toWireError(error) {
  if (error instanceof CpxError) return error.toWire();
  const message = error instanceof Error ? error.message : String(error);
  return { code: ExtensionErrorCode.INTERNAL, message };
}
