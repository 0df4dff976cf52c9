// Content script: the bridge between a page and the background. A classic script (content scripts
// cannot be modules), so the action names are repeated here; keep them in step with
// shared/messages.js and page/cpx-connect.js.
"use strict";

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const REQUEST_ACTIONS = new Set(["cpx-connect:status", "cpx-connect:authenticate"]);

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
    if (!window.isSecureContext || window.location.protocol !== "https:") {
      answer({
        action: `${action}-failure`,
        requestId,
        error: { code: "ERR_INSECURE_CONTEXT", message: "card login needs a page served over https" },
      });
      return;
    }

    /** @type {Record<string, unknown>} */
    const request = { action, requestId };
    if (action === "cpx-connect:authenticate") {
      request.challengeNonce = data.challengeNonce;
      request.lang = data.lang;
      request.timeout = data.timeout;
    }
    Promise.resolve(api.runtime.sendMessage(request)).then(
      (response) => {
        if (response && response.ok === true) {
          answer({ action: `${action}-success`, requestId, result: response.result });
        } else {
          const error = response && response.error ? response.error : { code: "ERR_INTERNAL", message: "no answer from the extension" };
          answer({ action: `${action}-failure`, requestId, error });
        }
      },
      (error) => {
        // The background went away (extension reloaded or disabled).
        answer({
          action: `${action}-failure`,
          requestId,
          error: { code: "ERR_EXTENSION_UNAVAILABLE", message: String(error && error.message ? error.message : error) },
        });
      },
    );
  });
})();
