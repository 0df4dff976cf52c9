// The authenticate flow: list the cards, open the extension's own PIN window, send the PIN the
// user just typed, and answer the page once. The extension never retries a PIN by itself and
// keeps no copy of it: the string goes from the PIN window's message into one host request.

import { CpxError, ExtensionErrorCode } from "../shared/errors.js";
import { isHostAcceptedNonce, isHostAcceptedOrigin } from "./origin.js";
import { checkTabStillInFront } from "./pageGuard.js";

export const PIN_WINDOW = Object.freeze({ path: "pin.html", width: 480, height: 720 });
/** The longest a login may wait for its PIN, counted from the page's request (wrong PINs included). */
export const PIN_TIMEOUT_MS = 120_000;
/** The shortest PIN wait: a page cannot make the window flash by asking for `timeout: 1`. */
export const MIN_PIN_WAIT_MS = 10_000;
/** The shortest time a PIN window is shown: less than this left after reading the card, none opens. */
export const MIN_WINDOW_MS = 5_000;
/** A request older than this when it reaches the background is counted from its arrival. */
const MAX_REQUEST_TRANSIT_MS = 30_000;
/** After the user cancels, the same tab is refused this long, so a page cannot loop the window. */
export const CANCEL_COOLDOWN_MS = 3_000;

/**
 * @typedef {object} HostCertificate
 * @property {string} certificateId
 * @property {string} [reader]
 * @property {string} [cardType]
 * @property {string} [certificate]
 * @property {{ idNat?: string, surname?: string, givenName?: string, profession?: string }} [holder]
 * @property {string} [notAfter]
 * @property {{ retriesLeft?: number, maxRetries?: number, minLength?: number, maxLength?: number }} [pin]
 */

/**
 * @typedef {object} PinSession
 * @property {string} id
 * @property {number} tabId
 * @property {string} origin
 * @property {string} challengeNonce
 * @property {string | undefined} lang
 * @property {HostCertificate[]} certificates
 * @property {number | undefined} windowId
 * @property {number} deadline absolute time (ms) after which no PIN is sent: fixed when the request arrived
 * @property {ReturnType<typeof setTimeout> | undefined} pinTimer
 * @property {boolean} submitting
 * @property {boolean} settled
 * @property {(token: object) => void} resolve
 * @property {(error: CpxError) => void} reject
 */

export class PinFlow {
  /**
   * @param {object} deps
   * @param {typeof chrome} deps.api
   * @param {import("./nativePort.js").NativePortService} deps.host
   * @param {() => number} [deps.now]
   */
  constructor({ api, host, now = Date.now }) {
    this.api = api;
    this.host = host;
    this.now = now;
    /** @type {Map<string, PinSession>} */
    this.sessions = new Map();
    /** When the user last cancelled a login of each tab. @type {Map<number, number>} */
    this.cancelledAt = new Map();
    api.windows.onRemoved.addListener((windowId) => this.onWindowClosed(windowId));
    // Nobody is left to answer when the asking tab goes: close its PIN window.
    api.tabs?.onRemoved.addListener((tabId) => this.onTabClosed(tabId));
  }

  /**
   * Runs one card login for a page and resolves to the Web eID token. Everything the host would
   * refuse is refused here, before the user is asked for a PIN.
   * @param {{ tabId: number, origin: string, challengeNonce: unknown, lang?: unknown, timeoutMs?: unknown,
   *   requestedAt?: unknown, signal?: AbortSignal }} request `requestedAt`: when our content script
   *   received the page's request (same clock); `signal` aborts when the page that asked is gone
   * @returns {Promise<object>}
   */
  async authenticate({ tabId, origin, challengeNonce, lang, timeoutMs, requestedAt, signal }) {
    if (!isHostAcceptedNonce(challengeNonce)) {
      throw new CpxError("ERR_NONCE_INVALID", "challengeNonce must be 44 to 128 characters of base64");
    }
    if (!isHostAcceptedOrigin(origin)) {
      throw new CpxError("ERR_ORIGIN_INVALID", `the page's origin ${origin} is not one the host can sign for`);
    }
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < MIN_PIN_WAIT_MS)) {
      throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, `timeout must be a number of milliseconds, at least ${MIN_PIN_WAIT_MS}`, {
        field: "timeout",
      });
    }
    const cancelledAt = this.cancelledAt.get(tabId);
    if (cancelledAt !== undefined && this.now() - cancelledAt < CANCEL_COOLDOWN_MS) {
      throw new CpxError(ExtensionErrorCode.USER_CANCELLED, "the user cancelled a card login in this tab a moment ago");
    }
    // One absolute deadline, fixed now: the page's timeout counts from its request, and neither
    // the host's time to read the card nor a wrong PIN moves it.
    // Counted from when the content script got the request (the page's own timer starts then),
    // so a slow service-worker start does not push the deadline past the page's; a time in the
    // future or implausibly old is ignored.
    const arrived = this.now();
    const start =
      typeof requestedAt === "number" && requestedAt <= arrived && arrived - requestedAt < MAX_REQUEST_TRANSIT_MS ? requestedAt : arrived;
    const deadline = start + Math.min(PIN_TIMEOUT_MS, typeof timeoutMs === "number" ? timeoutMs : PIN_TIMEOUT_MS);
    this.host.hold();
    try {
      /** @type {{ certificates?: HostCertificate[] }} */
      const listed = await this.host.request("certificates");
      const certificates = Array.isArray(listed.certificates) ? listed.certificates.filter(isUsableCertificate) : [];
      if (certificates.length === 0) {
        throw new CpxError("ERR_NO_CARD", "no card with an authentication certificate was found");
      }
      if (signal?.aborted) throw new CpxError(ExtensionErrorCode.USER_CANCELLED, "the page that asked has gone");
      if (deadline - this.now() < MIN_WINDOW_MS) {
        // Too little time left to type a PIN: do not flash a window.
        throw new CpxError(ExtensionErrorCode.TIMEOUT, "the card took too long to answer: no time left for the PIN");
      }
      await checkTabStillInFront(this.api, tabId);
      if (signal?.aborted) throw new CpxError(ExtensionErrorCode.USER_CANCELLED, "the page that asked has gone");
      return await this.runPinWindow(
        {
          tabId,
          origin,
          challengeNonce,
          lang: lang === "fr" || lang === "en" ? lang : undefined,
          certificates,
          deadline,
        },
        signal,
      );
    } finally {
      this.host.release();
    }
  }

  /**
   * @param {{ tabId: number, origin: string, challengeNonce: string, lang: string | undefined,
   *   certificates: HostCertificate[], deadline: number }} request
   * @param {AbortSignal} [signal]
   * @returns {Promise<object>}
   */
  runPinWindow(request, signal) {
    return new Promise((resolve, reject) => {
      /** @type {PinSession} */
      const session = {
        ...request,
        id: crypto.randomUUID(),
        windowId: undefined,
        pinTimer: undefined,
        submitting: false,
        settled: false,
        resolve,
        reject,
      };
      this.sessions.set(session.id, session);
      this.armPinTimer(session);
      // The page reloaded, navigated away or closed: nobody is left to receive a token.
      signal?.addEventListener("abort", () => {
        this.finish(session, new CpxError(ExtensionErrorCode.USER_CANCELLED, "the page that asked has gone"));
      });
      const url = this.api.runtime.getURL(`${PIN_WINDOW.path}?session=${encodeURIComponent(session.id)}`);
      this.api.windows
        .create({ type: "popup", url, width: PIN_WINDOW.width, height: PIN_WINDOW.height, focused: true })
        .then((created) => {
          session.windowId = created?.id;
          // The flow may have ended (timeout, error) before windows.create answered.
          if (session.settled && !this.sessions.has(session.id)) this.closeWindow(session);
        })
        .catch((error) => {
          this.finish(session, new CpxError(ExtensionErrorCode.INTERNAL, `cannot open the PIN window: ${error?.message ?? error}`));
        });
    });
  }

  /**
   * What the PIN window shows. Certificates go without their DER: the window needs none of it.
   * @param {string} sessionId
   */
  describe(sessionId) {
    const session = this.sessionOrThrow(sessionId);
    return {
      origin: session.origin,
      lang: session.lang,
      pinDeadline: session.deadline,
      certificates: session.certificates.map((certificate) => ({
        certificateId: certificate.certificateId,
        reader: certificate.reader ?? "",
        cardType: certificate.cardType ?? "unknown",
        holder: certificate.holder ?? {},
        notAfter: certificate.notAfter ?? null,
        pin: certificate.pin ?? {},
      })),
    };
  }

  /**
   * One PIN attempt, asked for by the user in the PIN window.
   * @param {string} sessionId
   * @param {unknown} certificateId
   * @param {unknown} pin
   * @returns {Promise<{ done: boolean, error?: import("../shared/errors.js").WireError & { pinDeadline?: number } }>}
   */
  async submit(sessionId, certificateId, pin) {
    const session = this.sessionOrThrow(sessionId);
    if (session.settled) throw new CpxError(ExtensionErrorCode.USER_CANCELLED, "this PIN request is over");
    const certificate = session.certificates.find((candidate) => candidate.certificateId === certificateId);
    if (!certificate) throw new CpxError("ERR_CERTIFICATE_NOT_FOUND", "the chosen certificate is not on the list");
    if (typeof pin !== "string" || !/^[0-9]{1,16}$/.test(pin)) {
      throw new CpxError("ERR_PIN_FORMAT", "the PIN must be digits only");
    }
    if (certificate.pin?.retriesLeft === 0) {
      // A blocked card cannot be chosen: its PIN would only be refused again.
      throw new CpxError("ERR_PIN_BLOCKED", "this card's PIN is blocked");
    }
    if (session.submitting) throw new CpxError(ExtensionErrorCode.BUSY, "a PIN is already being checked");
    if (this.now() >= session.deadline) {
      // The page has given up (or is about to): a PIN sent now would sign a token nobody receives.
      const late = new CpxError(ExtensionErrorCode.PIN_TIMEOUT, "no PIN was entered in time");
      this.finish(session, late);
      throw late;
    }
    session.submitting = true;
    this.stopPinTimer(session);
    try {
      const token = await this.host.request("authenticate", {
        origin: session.origin,
        challengeNonce: session.challengeNonce,
        certificateId: certificate.certificateId,
        pin,
      });
      this.finish(session, null, token);
      return { done: true };
    } catch (error) {
      const failure =
        error instanceof CpxError ? error : new CpxError(ExtensionErrorCode.INTERNAL, String(error));
      if (session.settled) return { done: true, error: failure.toWire() };
      if (failure.code === "ERR_PIN_INCORRECT" || failure.code === "ERR_PIN_FORMAT") {
        if (typeof failure.details.retriesLeft === "number") {
          certificate.pin = { ...certificate.pin, retriesLeft: failure.details.retriesLeft };
        }
        if (this.now() >= session.deadline) {
          const late = new CpxError(ExtensionErrorCode.PIN_TIMEOUT, "no PIN was entered in time");
          this.finish(session, late);
          return { done: true, error: late.toWire() };
        }
        // The window asks again, within the same deadline; the user types a new PIN (or cancels).
        this.armPinTimer(session);
        return { done: false, error: { ...failure.toWire(), pinDeadline: session.deadline } };
      }
      if (failure.code === "ERR_PIN_BLOCKED") {
        // The PIN belongs to the card: every certificate read from the same reader is blocked too.
        for (const candidate of session.certificates) {
          if (candidate === certificate || (certificate.reader && candidate.reader === certificate.reader)) {
            candidate.pin = { ...candidate.pin, retriesLeft: 0 };
          }
        }
        if (session.certificates.some((candidate) => candidate.pin?.retriesLeft !== 0)) {
          // Another card can still be used: the login goes on, the window offers it.
          this.armPinTimer(session);
          return { done: false, error: { ...failure.toWire(), pinDeadline: session.deadline } };
        }
        // The page learns at once; the window stays open to say what to do, until the user closes it.
        this.finish(session, failure, undefined, { keepWindow: true });
        return { done: false, error: failure.toWire() };
      }
      this.finish(session, failure);
      return { done: true, error: failure.toWire() };
    } finally {
      session.submitting = false;
    }
  }

  /**
   * The user pressed "Annuler" or Escape.
   * @param {string} sessionId
   */
  cancel(sessionId) {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    if (!session.settled) this.cancelledAt.set(session.tabId, this.now());
    this.finish(session, new CpxError(ExtensionErrorCode.USER_CANCELLED, "the user cancelled the card login"));
  }

  /**
   * The blocked-card view opens with nothing to submit: the page is told at once.
   * @param {string} sessionId
   */
  reportBlocked(sessionId) {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    const allBlocked = session.certificates.every((certificate) => certificate.pin?.retriesLeft === 0);
    if (allBlocked) {
      this.finish(session, new CpxError("ERR_PIN_BLOCKED", "the card's PIN is blocked"), undefined, { keepWindow: true });
    }
  }

  /** @param {number} windowId */
  onWindowClosed(windowId) {
    for (const session of this.sessions.values()) {
      if (session.windowId !== windowId) continue;
      session.windowId = undefined;
      if (!session.settled) this.cancelledAt.set(session.tabId, this.now());
      this.finish(session, new CpxError(ExtensionErrorCode.USER_CANCELLED, "the user closed the PIN window"));
    }
  }

  /** @param {number} tabId */
  onTabClosed(tabId) {
    this.cancelledAt.delete(tabId);
    for (const session of this.sessions.values()) {
      if (session.tabId !== tabId) continue;
      this.finish(session, new CpxError(ExtensionErrorCode.USER_CANCELLED, "the page that asked was closed"));
    }
  }

  /**
   * Settles the page's promise once, stops the timer, and closes the window unless told otherwise.
   * The session is forgotten only when its window is gone, so a blocked-card window can still ask.
   * @param {PinSession} session
   * @param {CpxError | null} error
   * @param {object} [token]
   * @param {{ keepWindow?: boolean }} [options]
   */
  finish(session, error, token, { keepWindow = false } = {}) {
    this.stopPinTimer(session);
    if (!session.settled) {
      session.settled = true;
      if (error) session.reject(error);
      else session.resolve(/** @type {object} */ (token));
    }
    if (!keepWindow) this.closeWindow(session);
  }

  /**
   * Closes the session's window (if it has one yet) and forgets the session. A window still
   * being created is closed by windows.create's callback, which holds the session itself.
   * @param {PinSession} session
   */
  closeWindow(session) {
    this.sessions.delete(session.id);
    const windowId = session.windowId;
    if (windowId === undefined) return;
    session.windowId = undefined;
    this.api.windows.remove(windowId).catch(() => {
      // already closed by the user
    });
  }

  /** Runs until the session's fixed deadline. @param {PinSession} session */
  armPinTimer(session) {
    this.stopPinTimer(session);
    session.pinTimer = setTimeout(() => {
      this.finish(session, new CpxError(ExtensionErrorCode.PIN_TIMEOUT, "no PIN was entered in time"));
    }, Math.max(0, session.deadline - this.now()));
  }

  /** @param {PinSession} session */
  stopPinTimer(session) {
    if (session.pinTimer) clearTimeout(session.pinTimer);
    session.pinTimer = undefined;
  }

  /** @param {string} sessionId */
  sessionOrThrow(sessionId) {
    const session = this.sessions.get(sessionId);
    if (!session || session.settled && !isBlockedView(session)) {
      throw new CpxError(ExtensionErrorCode.USER_CANCELLED, "this PIN request is over");
    }
    return session;
  }
}

/** @param {PinSession} session */
function isBlockedView(session) {
  return session.certificates.some((certificate) => certificate.pin?.retriesLeft === 0);
}

/** @param {unknown} value @returns {value is HostCertificate} */
function isUsableCertificate(value) {
  return !!value && typeof value === "object" && typeof (/** @type {any} */ (value).certificateId) === "string";
}
