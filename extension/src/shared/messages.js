// Message names between the content script, the PIN window, the toolbar popup and the background.
// The content script cannot import modules (content scripts are classic scripts), so it repeats
// the two page actions it handles; keep them in step with PageAction.

export const PageAction = Object.freeze({
  STATUS: "cpx-connect:status",
  AUTHENTICATE: "cpx-connect:authenticate",
});

export const PinAction = Object.freeze({
  /** The PIN window asks what to show. */
  READY: "cpx-connect-pin:ready",
  /** The PIN window sends the certificate chosen and the PIN just typed. */
  SUBMIT: "cpx-connect-pin:submit",
  /** The user pressed "Annuler" or Escape. */
  CANCEL: "cpx-connect-pin:cancel",
});

export const PopupAction = Object.freeze({
  DIAGNOSE: "cpx-connect-popup:diagnose",
});
