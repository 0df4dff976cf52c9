// What a page must show before it may raise the PIN window, and how often it may ask `status`.
// A login is the user's act: a click (or key press) in the page just now, in the tab they are
// looking at, in the window that has the focus. A page polling in the background gets nothing.

import { CpxError, ExtensionErrorCode } from "../shared/errors.js";

/**
 * Refuses with ERR_USER_ACTIVATION_REQUIRED unless the page's own document had a user gesture
 * (`navigator.userActivation.isActive`, read by our content script, not by the page) and was
 * visible, in the active tab of the focused window.
 * @param {typeof chrome} api
 * @param {{ userActivation?: unknown, visible?: unknown }} message from the content script
 * @param {chrome.runtime.MessageSender} sender
 */
export async function checkUserIntent(api, message, sender) {
  if (message.userActivation !== true) {
    throw new CpxError(ExtensionErrorCode.USER_ACTIVATION_REQUIRED, "authenticate() must be called from a click or a key press in the page");
  }
  if (message.visible !== true) {
    throw new CpxError(ExtensionErrorCode.USER_ACTIVATION_REQUIRED, "the page asking for a card login is not visible");
  }
  const tab = sender.tab;
  if (!tab || tab.active !== true) {
    throw new CpxError(ExtensionErrorCode.USER_ACTIVATION_REQUIRED, "the tab asking for a card login is not the active tab");
  }
  let focused = false;
  try {
    focused = (await api.windows.get(tab.windowId)).focused === true;
  } catch {
    focused = false;
  }
  if (!focused) {
    throw new CpxError(ExtensionErrorCode.USER_ACTIVATION_REQUIRED, "the window asking for a card login does not have the focus");
  }
}

/**
 * The same test as checkUserIntent, as a yes or no (for `status`, which answers either way).
 * @param {typeof chrome} api
 * @param {{ userActivation?: unknown, visible?: unknown }} message from the content script
 * @param {chrome.runtime.MessageSender} sender
 */
export async function hasUserIntent(api, message, sender) {
  try {
    await checkUserIntent(api, message, sender);
    return true;
  } catch {
    return false;
  }
}

/**
 * Right before the PIN window opens (the card may have taken many seconds to list): the asking
 * tab must still be the active tab of the focused window, or the window would pop up over
 * whatever the user turned to, and take the keys they type there.
 * @param {typeof chrome} api
 * @param {number} tabId
 */
export async function checkTabStillInFront(api, tabId) {
  let inFront = false;
  try {
    const tab = await api.tabs.get(tabId);
    inFront = tab?.active === true && (await api.windows.get(tab.windowId)).focused === true;
  } catch {
    inFront = false;
  }
  if (!inFront) {
    throw new CpxError(ExtensionErrorCode.USER_ACTIVATION_REQUIRED, "the user left the tab that asked for a card login before the PIN window opened");
  }
}

/** `status` calls a tab may make within STATUS_WINDOW_MS; pages need one when they load. */
export const STATUS_BURST = 5;
export const STATUS_WINDOW_MS = 10_000;

/** A sliding-window limit of `status` calls per tab: a page flooding `status` gets ERR_BUSY. */
export class StatusRateLimit {
  /** @param {{ now?: () => number }} [options] */
  constructor({ now = Date.now } = {}) {
    this.now = now;
    /** @type {Map<number, number[]>} */
    this.calls = new Map();
  }

  /** @param {number} tabId */
  check(tabId) {
    const now = this.now();
    const recent = (this.calls.get(tabId) ?? []).filter((at) => now - at < STATUS_WINDOW_MS);
    if (recent.length >= STATUS_BURST) {
      this.calls.set(tabId, recent);
      throw new CpxError(ExtensionErrorCode.BUSY, "too many status requests from this tab; try again in a few seconds");
    }
    recent.push(now);
    this.calls.set(tabId, recent);
  }

  /** @param {number} tabId */
  forget(tabId) {
    this.calls.delete(tabId);
  }
}
