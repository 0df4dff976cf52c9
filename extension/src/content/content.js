// Content script: the bridge between a page and the background. A classic script (content scripts
// cannot be modules), so the action names are repeated here; keep them in step with
// shared/messages.js and page/cpx-connect.js.
"use strict";

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const REQUEST_ACTIONS = new Set(["cpx-connect:status", "cpx-connect:authenticate"]);
  /** Keep in step with AUTHENTICATE_PORT in background/background.js. */
  const AUTHENTICATE_PORT = "cpx-connect:authenticate";
  /** @type {Set<any>} ports of logins under way, closed when the page goes */
  const openPorts = new Set();

  // Leaving the page (reload, navigation, back/forward cache) ends its logins: the background
  // closes their PIN windows when the port goes.
  window.addEventListener("pagehide", () => {
    for (const port of openPorts) port.disconnect();
    openPorts.clear();
  });

  /**
   * Posts to the page's own origin only, never "*".
   * @param {Record<string, unknown>} message
   */
  function answer(message) {
    window.postMessage(message, window.location.origin);
  }

  /** @param {unknown} value */
  function isRequestId(value) {
    return (typeof value === "string" && value.length > 0 && value.length <= 128) || Number.isSafeInteger(value);
  }

  window.addEventListener("message", (event) => {
    // Only the page itself: not other frames, not other windows, not our own answers.
    if (event.source !== window || event.origin !== window.location.origin) return;
    const data = event.data;
    if (!data || typeof data !== "object" || !REQUEST_ACTIONS.has(data.action) || !isRequestId(data.requestId)) return;
    const { action, requestId } = data;

    answer({ action: `${action}-ack`, requestId });
    // An opaque origin (sandboxed document) has no origin a token could be bound to.
    if (!window.isSecureContext || window.location.protocol !== "https:" || window.origin === "null") {
      answer({
        action: `${action}-failure`,
        requestId,
        error: { code: "ERR_INSECURE_CONTEXT", message: "card login needs a page served over https" },
      });
      return;
    }

    /** @type {Record<string, unknown>} */
    const request = { action, requestId };
    /** @param {any} response */
    const deliver = (response) => {
      if (response && response.ok === true) {
        answer({ action: `${action}-success`, requestId, result: response.result });
      } else {
        const error = response && response.error ? response.error : { code: "ERR_INTERNAL", message: "no answer from the extension" };
        answer({ action: `${action}-failure`, requestId, error });
      }
    };
    /** @param {unknown} error */
    const unavailable = (error) => {
      // The background went away (extension reloaded or disabled).
      answer({
        action: `${action}-failure`,
        requestId,
        error: { code: "ERR_EXTENSION_UNAVAILABLE", message: String(error && /** @type {any} */ (error).message ? /** @type {any} */ (error).message : error) },
      });
    };

    // Read here, in the content script's own view of the document: the page cannot forge them.
    // A login needs both; `status` says whether a card is present only with both (or to a site
    // the administrator listed).
    request.userActivation = !!(navigator.userActivation && navigator.userActivation.isActive);
    request.visible = document.visibilityState === "visible";
    if (action !== "cpx-connect:authenticate") {
      Promise.resolve(api.runtime.sendMessage(request)).then(deliver, unavailable);
      return;
    }
    request.challengeNonce = data.challengeNonce;
    request.lang = data.lang;
    request.timeout = data.timeout;
    // When the page asked (the page library starts its own timer at our ack): the background
    // counts the page's timeout from here, not from when its service worker woke up.
    request.requestedAt = Date.now();
    let port;
    try {
      port = api.runtime.connect({ name: AUTHENTICATE_PORT });
    } catch (error) {
      unavailable(error);
      return;
    }
    let answered = false;
    openPorts.add(port);
    port.onMessage.addListener((/** @type {any} */ response) => {
      answered = true;
      openPorts.delete(port);
      deliver(response);
      port.disconnect();
    });
    port.onDisconnect.addListener(() => {
      openPorts.delete(port);
      if (!answered) unavailable(new Error("the extension closed the connection"));
    });
    port.postMessage(request);
  });
})();
