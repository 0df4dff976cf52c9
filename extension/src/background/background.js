// Background entry point (Chromium service worker, Firefox background script). It owns every
// call to the native host; pages, the PIN window and the toolbar popup reach it only through
// runtime messages, and messages from other extensions are ignored.

import { api } from "../shared/browser.js";
import { CpxError, ExtensionErrorCode, toWireError } from "../shared/errors.js";
import { PageAction, PinAction, PopupAction } from "../shared/messages.js";
import { NativePortService } from "./nativePort.js";
import { checkOriginPolicy, isOriginListed, pageOriginOf, readOriginPolicy } from "./origin.js";
import { PIN_WINDOW, PinFlow } from "./pinFlow.js";
import { checkUserIntent, hasUserIntent, StatusRateLimit } from "./pageGuard.js";

export const NATIVE_HOST_NAME = "org.cpxconnect.host";
/** The page library's authenticate travels on a port: when the page goes, the port goes. */
export const AUTHENTICATE_PORT = "cpx-connect:authenticate";
const startedAt = Date.now();

const host = new NativePortService({
  connectNative: (name) => api.runtime.connectNative(name),
  hostName: NATIVE_HOST_NAME,
  // Reading lastError inside onDisconnect also stops Chromium from logging it as unchecked.
  lastErrorMessage: () => api.runtime.lastError?.message,
});
const pinFlow = new PinFlow({ api, host });
/** Tabs with a login under way: one at a time per tab. */
const busyTabs = new Set();
const statusLimit = new StatusRateLimit();
api.tabs?.onRemoved.addListener((tabId) => statusLimit.forget(tabId));

api.runtime.onConnect.addListener((port) => {
  if (port.name !== AUTHENTICATE_PORT || port.sender?.id !== api.runtime.id) return;
  const gone = new AbortController();
  let asked = false;
  // Reload, navigation, closing the tab or the extension's own restart: the login ends and its
  // PIN window closes; a PIN typed there could only sign a token nobody receives.
  port.onDisconnect.addListener(() => gone.abort());
  port.onMessage.addListener((message) => {
    if (asked || !message || typeof message !== "object" || message.action !== PageAction.AUTHENTICATE) return;
    asked = true;
    const sender = /** @type {chrome.runtime.MessageSender} */ (port.sender);
    authenticateFor(message, sender, gone.signal).then(
      (result) => answerOn(port, { ok: true, result }),
      (error) => answerOn(port, { ok: false, error: toWireError(error) }),
    );
  });
});

/**
 * @param {chrome.runtime.Port} port
 * @param {unknown} response
 */
function answerOn(port, response) {
  try {
    port.postMessage(response);
    port.disconnect();
  } catch {
    // the page has gone
  }
}

/**
 * @param {any} message
 * @param {chrome.runtime.MessageSender} sender
 * @param {AbortSignal} signal
 */
function authenticateFor(message, sender, signal) {
  return forPage(sender, async (origin, tabId) => {
    await checkUserIntent(api, message, sender);
    return pinFlow.authenticate({
      tabId,
      origin,
      challengeNonce: message.challengeNonce,
      lang: message.lang,
      timeoutMs: message.timeout,
      requestedAt: message.requestedAt,
      signal,
    });
  });
}

api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== api.runtime.id || !message || typeof message !== "object") return false;
  const handler = pickHandler(message, sender);
  if (!handler) return false;
  handler().then(
    (result) => sendResponse({ ok: true, result }),
    (error) => sendResponse({ ok: false, error: toWireError(error) }),
  );
  return true; // answer asynchronously
});

/**
 * @param {any} message
 * @param {chrome.runtime.MessageSender} sender
 * @returns {(() => Promise<unknown>) | undefined}
 */
function pickHandler(message, sender) {
  switch (message.action) {
    case PageAction.STATUS:
      // Read-only and quick: it may run beside a login (pages ask for it when they load).
      return () =>
        forPage(
          sender,
          async (origin, tabId, policy) => {
            statusLimit.check(tabId);
            // Whether a card is in a reader tells a site that a health professional is at this
            // computer: only a site the administrator listed, or a visible page the user just
            // clicked, learns it. Others get the versions only (as Web eID).
            const mayKnowCard = isOriginListed(origin, policy) || (await hasUserIntent(api, message, sender));
            return pageStatus(mayKnowCard);
          },
          { exclusive: false },
        );
    case PinAction.READY:
      return isExtensionPage(sender, PIN_WINDOW.path) ? async () => pinWindowReady(message.sessionId) : undefined;
    case PinAction.SUBMIT:
      return isExtensionPage(sender, PIN_WINDOW.path)
        ? () => pinFlow.submit(message.sessionId, message.certificateId, message.pin)
        : undefined;
    case PinAction.CANCEL:
      return isExtensionPage(sender, PIN_WINDOW.path) ? async () => pinFlow.cancel(message.sessionId) : undefined;
    case PopupAction.DIAGNOSE:
      return isExtensionPage(sender, "popup.html") ? () => diagnose() : undefined;
    default:
      return undefined;
  }
}

/**
 * Checks the sender and the managed policy, then runs the operation; an exclusive one (a login)
 * keeps the tab busy until it ends.
 * @template T
 * @param {chrome.runtime.MessageSender} sender
 * @param {(origin: string, tabId: number, policy: import("./origin.js").OriginPolicy) => Promise<T>} operation
 * @param {{ exclusive?: boolean }} [options]
 */
async function forPage(sender, operation, { exclusive = true } = {}) {
  const origin = pageOriginOf(sender, api.runtime.id);
  const tabId = /** @type {number} */ (sender.tab?.id);
  const policy = await readOriginPolicy(api, { startedAt });
  checkOriginPolicy(policy, origin);
  if (!exclusive) return operation(origin, tabId, policy);
  if (busyTabs.has(tabId)) {
    throw new CpxError(ExtensionErrorCode.BUSY, "another card operation is under way in this tab");
  }
  busyTabs.add(tabId);
  try {
    return await operation(origin, tabId, policy);
  } finally {
    busyTabs.delete(tabId);
  }
}

/**
 * What a page may learn: the versions, and, when `withCard`, whether a login can start now.
 * Reader names, card types and ATRs would tell every https site that a health professional is
 * at this computer: they stay in the toolbar popup.
 * @param {boolean} withCard
 */
async function pageStatus(withCard) {
  const hostVersion = await host.version();
  const versions = { extension: { version: api.runtime.getManifest().version }, host: hostVersion };
  if (!withCard) return versions;
  const status = await host.request("status");
  const readers = Array.isArray(status.readers) ? status.readers : [];
  return { ...versions, ready: status.service === "ok" && readers.some(isUsableCard) };
}

/** A reader holding a card the host recognised as a CPx card. @param {any} reader */
function isUsableCard(reader) {
  const card = reader?.card;
  return !!card && typeof card === "object" && (card.type === "CPS3" || card.type === "CPS4");
}

/** @param {unknown} sessionId */
function pinWindowReady(sessionId) {
  if (typeof sessionId !== "string") throw new CpxError(ExtensionErrorCode.INVALID_REQUEST, "sessionId is missing");
  const view = pinFlow.describe(sessionId);
  if (view.certificates.every((certificate) => certificate.pin.retriesLeft === 0)) {
    pinFlow.reportBlocked(sessionId);
  }
  return view;
}

/**
 * Everything the toolbar popup shows; each step reports its own failure so one problem does not
 * hide the others.
 */
async function diagnose() {
  /** @type {Record<string, unknown>} */
  const report = {
    extension: { version: api.runtime.getManifest().version, id: api.runtime.id },
    policy: await readOriginPolicy(api, { startedAt }),
  };
  report.host = await settle(() => host.version());
  report.status = await settle(() => host.request("status"));
  report.certificates = await settle(async () => {
    const listed = await host.request("certificates");
    const certificates = Array.isArray(listed.certificates) ? listed.certificates : [];
    // The popup shows who and until when; it has no use for the DER.
    return certificates.map(({ certificate: _der, ...rest }) => rest);
  });
  return report;
}

/**
 * @param {() => Promise<unknown>} step
 * @returns {Promise<{ ok: true, value: unknown } | { ok: false, error: import("../shared/errors.js").WireError }>}
 */
async function settle(step) {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, error: toWireError(error) };
  }
}

/**
 * @param {chrome.runtime.MessageSender} sender
 * @param {string} page
 */
function isExtensionPage(sender, page) {
  const expected = api.runtime.getURL(page);
  return typeof sender.url === "string" && (sender.url === expected || sender.url.startsWith(`${expected}?`) || sender.url.startsWith(`${expected}#`));
}
