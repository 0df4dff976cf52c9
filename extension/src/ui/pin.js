// The PIN window: shows who asks (the origin the browser reported), which card, how many tries
// are left, and takes the PIN. The PIN leaves this page in one message to the background and the
// field is cleared before that message is even answered.
//
// The field is a text field showing one • per digit, the digits kept in `digits` below: a
// password field would make the browser's password manager offer to save the PIN. Keys that
// arrive in the first second after the window shows or takes the focus are dropped (a page can
// tell the user to type a code and press Enter just as this window pops up), and the last try
// needs an explicit tick.

import { api } from "../shared/browser.js";
import { PinAction } from "../shared/messages.js";
import { formatDate, loadStrings, translatePage } from "./i18n.js";

const DEFAULT_PIN_LENGTH = { min: 4, max: 8 };
/** How long keys are dropped after the window shows or takes the focus; each dropped key restarts it. */
const KEY_GUARD_MS = 1_000;
const MASK = "\u2022";

const sessionId = new URLSearchParams(window.location.search).get("session") ?? "";
/** @type {(key: string, ...substitutions: (string | number)[]) => string} */
let t = (key) => key;
let lang = "fr";
/** @type {any} */
let view = null;
let selectedId = "";
let busy = false;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pinInput = /** @type {HTMLInputElement} */ ($("pin"));
const pinForm = /** @type {HTMLFormElement} */ ($("pin-form"));
const lastTryConfirm = /** @type {HTMLInputElement} */ ($("last-try-confirm"));
/** The PIN typed so far, one digit per item; the field shows only the mask. @type {string[]} */
let digits = [];
let keysAccepted = false;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let keyGuard;

/**
 * @param {string} action
 * @param {Record<string, unknown>} [fields]
 */
async function ask(action, fields = {}) {
  const response = await api.runtime.sendMessage({ action, sessionId, ...fields });
  if (!response || response.ok !== true) {
    const error = response?.error ?? { code: "ERR_INTERNAL", message: "no answer" };
    throw Object.assign(new Error(error.message), { code: error.code });
  }
  return response.result;
}

async function start() {
  let described;
  try {
    described = await ask(PinAction.READY);
  } catch {
    ({ t, lang } = await loadStrings(undefined));
    translatePage(document, t);
    showOver(t("pinRequestOver"));
    return;
  }
  view = described;
  ({ t, lang } = await loadStrings(view.lang));
  document.documentElement.lang = lang;
  document.title = `${t("pinWindowTitle")} – ${view.origin}`;
  translatePage(document, t);
  selectedId = (view.certificates.find((/** @type {any} */ c) => c.pin?.retriesLeft !== 0) ?? view.certificates[0]).certificateId;
  if (view.certificates.every((/** @type {any} */ c) => c.pin?.retriesLeft === 0)) {
    showBlocked();
    return;
  }
  renderAsk();
  startCountdown();
}

function renderAsk() {
  $("loading").hidden = true;
  $("ask").hidden = false;
  $("origin").textContent = view.origin;
  if (view.certificates.length > 1) {
    $("chooser").hidden = false;
    const choices = $("choices");
    choices.replaceChildren(
      ...view.certificates.map((/** @type {any} */ certificate, /** @type {number} */ index) => {
        const label = document.createElement("label");
        label.className = "choice";
        const radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "certificate";
        radio.value = certificate.certificateId;
        radio.id = `certificate-${index}`;
        radio.checked = certificate.certificateId === selectedId;
        // A blocked card cannot be chosen: its PIN would only be refused.
        const blocked = certificate.pin?.retriesLeft === 0;
        radio.disabled = blocked;
        if (blocked) label.classList.add("blocked");
        radio.addEventListener("change", () => {
          selectedId = certificate.certificateId;
          updatePinInfo();
        });
        const text = document.createElement("span");
        text.append(...cardSummary(certificate));
        if (blocked) {
          const mark = document.createElement("small");
          mark.className = "blocked-mark";
          mark.textContent = t("pinCardBlockedChoice");
          text.append(mark);
        }
        label.append(radio, text);
        return label;
      }),
    );
  } else {
    $("single-card").hidden = false;
    fillCardDetails($("single-card-details"), view.certificates[0]);
  }
  updatePinInfo();
  // The field appears now: keys already on their way were meant for something else.
  guardKeys();
  pinInput.focus();
}

/**
 * Two short lines about a card: who (and their profession), then which card, where, until when.
 * @param {any} certificate
 * @returns {HTMLElement[]}
 */
function cardSummary(certificate) {
  const name = document.createElement("strong");
  name.textContent = [holderName(certificate), certificate.holder?.profession].filter(Boolean).join(" – ");
  const details = document.createElement("small");
  details.textContent = [
    `${t("pinCard")} ${certificate.cardType}`,
    certificate.reader && `${t("pinReader")} : ${certificate.reader}`,
    expiryLine(certificate),
  ]
    .filter(Boolean)
    .join(" · ");
  return [name, details];
}

/** @param {HTMLElement} box @param {any} certificate */
function fillCardDetails(box, certificate) {
  box.replaceChildren(...cardSummary(certificate));
}

/** @param {any} certificate */
function holderName(certificate) {
  const holder = certificate.holder ?? {};
  const name = [holder.givenName, holder.surname].filter(Boolean).join(" ");
  return name || holder.idNat || certificate.certificateId;
}

/** @param {any} certificate */
function expiryLine(certificate) {
  if (!certificate.notAfter) return "";
  const date = formatDate(certificate.notAfter, lang);
  return new Date(certificate.notAfter).getTime() < Date.now() ? t("pinExpired", date) : `${t("pinExpiry").toLowerCase()} ${date}`;
}

function selected() {
  return view.certificates.find((/** @type {any} */ c) => c.certificateId === selectedId);
}

function pinLength() {
  const pin = selected()?.pin ?? {};
  const min = Number.isInteger(pin.minLength) ? pin.minLength : DEFAULT_PIN_LENGTH.min;
  const max = Number.isInteger(pin.maxLength) ? pin.maxLength : DEFAULT_PIN_LENGTH.max;
  return { min, max: Math.max(min, max) };
}

function updatePinInfo() {
  const { min, max } = pinLength();
  pinInput.maxLength = max;
  $("pin-hint").textContent = min === max ? t("pinLengthExact", min) : t("pinLengthHint", min, max);
  const retriesLeft = selected()?.pin?.retriesLeft;
  const tries = $("tries");
  tries.classList.toggle("last", retriesLeft === 1);
  tries.textContent =
    typeof retriesLeft !== "number" ? "" : retriesLeft === 1 ? t("pinTriesLeftOne") : t("pinTriesLeftMany", retriesLeft);
  const lastTry = $("last-try");
  if (lastTry.hidden !== (retriesLeft !== 1)) lastTryConfirm.checked = false;
  lastTry.hidden = retriesLeft !== 1;
}

/** @param {string} text */
function showMessage(text) {
  $("message").textContent = text;
  pinInput.setAttribute("aria-invalid", text ? "true" : "false");
}

function showBlocked() {
  stopCountdown();
  $("loading").hidden = true;
  $("ask").hidden = true;
  $("blocked").hidden = false;
  $("blocked-origin").textContent = view.origin;
  fillCardDetails($("blocked-card-details"), selected());
  $("close").focus();
}

/** @param {string} text */
function showOver(text) {
  stopCountdown();
  for (const id of ["loading", "ask", "blocked"]) $(id).hidden = true;
  $("over").hidden = false;
  $("over-message").textContent = text;
}

/** @param {SubmitEvent} event */
async function onSubmit(event) {
  event.preventDefault();
  if (busy) return;
  const { min, max } = pinLength();
  let pin = digits.join("");
  if (!new RegExp(`^[0-9]{${min},${max}}$`).test(pin)) {
    pin = "";
    clearDigits();
    showMessage(t("pinFormat", min === max ? t("pinLengthExact", min) : t("pinLengthHint", min, max)));
    pinInput.focus();
    return;
  }
  if (selected()?.pin?.retriesLeft === 1 && !lastTryConfirm.checked) {
    // The last try is spent only on purpose: Enter alone (perhaps typed for another window) is not enough.
    pin = "";
    showMessage(t("pinLastTryConfirmNeeded"));
    return;
  }
  // Clear the field first: the PIN now exists only in the message below.
  clearDigits();
  setBusy(true);
  showMessage("");
  $("message").textContent = t("pinChecking");
  $("message").classList.add("info");
  /** @type {any} */
  let outcome;
  try {
    outcome = await ask(PinAction.SUBMIT, { certificateId: selectedId, pin });
  } catch (error) {
    const code = /** @type {any} */ (error).code ?? "ERR_INTERNAL";
    // A blocked card refused before the host is asked leaves the login open.
    outcome = { done: code !== "ERR_PIN_BLOCKED", error: { code } };
  } finally {
    pin = "";
  }
  $("message").classList.remove("info");
  setBusy(false);
  if (outcome.done && !outcome.error) {
    window.close();
    return;
  }
  const code = outcome.error?.code;
  if (code === "ERR_PIN_INCORRECT") {
    const certificate = selected();
    if (typeof outcome.error.retriesLeft === "number") certificate.pin = { ...certificate.pin, retriesLeft: outcome.error.retriesLeft };
    if (outcome.error.pinDeadline) view.pinDeadline = outcome.error.pinDeadline;
    updatePinInfo();
    showMessage(t("pinIncorrect"));
    pinInput.focus();
  } else if (code === "ERR_PIN_FORMAT") {
    const { min: lo, max: hi } = pinLength();
    showMessage(t("pinFormat", lo === hi ? t("pinLengthExact", lo) : t("pinLengthHint", lo, hi)));
    pinInput.focus();
  } else if (code === "ERR_PIN_BLOCKED") {
    selected().pin = { ...selected().pin, retriesLeft: 0 };
    const usable = view.certificates.find((/** @type {any} */ c) => c.pin?.retriesLeft !== 0);
    if (!outcome.done && usable && view.certificates.length > 1) {
      // Another card can still be used: the login goes on with it.
      if (outcome.error.pinDeadline) view.pinDeadline = outcome.error.pinDeadline;
      selectedId = usable.certificateId;
      renderAsk();
      showMessage(t("pinCardBlockedChooseOther"));
      return;
    }
    showBlocked();
  } else {
    const known = t(`err_${code}`);
    showOver(known && known !== `err_${code}` ? known : t("pinError", code ?? "ERR_INTERNAL"));
  }
}

/** @param {boolean} value */
function setBusy(value) {
  busy = value;
  pinInput.disabled = value;
  lastTryConfirm.disabled = value;
  /** @type {HTMLButtonElement} */ ($("confirm")).disabled = value;
}

function cancel() {
  ask(PinAction.CANCEL).catch(() => {}).finally(() => window.close());
}

/** @type {ReturnType<typeof setInterval> | undefined} */
let countdown;
function startCountdown() {
  const tick = () => {
    const seconds = Math.max(0, Math.round((view.pinDeadline - Date.now()) / 1000));
    const text = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    $("timer").textContent = t("pinTimeLeft", text);
  };
  tick();
  countdown = setInterval(tick, 1000);
}
function stopCountdown() {
  if (countdown) clearInterval(countdown);
}

/** Forgets the digits typed (overwritten first: the array may be looked at again). */
function clearDigits() {
  digits.fill("");
  digits = [];
  pinInput.value = "";
}

/** Drops keys for KEY_GUARD_MS from now, and whatever was typed. */
function guardKeys() {
  keysAccepted = false;
  pinForm.dataset.keys = "ignored";
  clearDigits();
  clearTimeout(keyGuard);
  keyGuard = setTimeout(() => {
    keysAccepted = true;
    pinForm.dataset.keys = "accepted";
  }, KEY_GUARD_MS);
}

// Every edit goes through here: only digits, kept in `digits`, shown as the mask.
pinInput.addEventListener("beforeinput", (event) => {
  // Enter announces itself as a line break in Chromium: left alone, it submits the form.
  if (event.inputType === "insertLineBreak" || event.inputType === "insertParagraph") return;
  event.preventDefault();
  if (!keysAccepted || busy) return;
  const { max } = pinLength();
  const wholeSelected = pinInput.selectionStart === 0 && pinInput.selectionEnd === pinInput.value.length && digits.length > 0;
  if (event.inputType.startsWith("insert")) {
    const text = event.data ?? event.dataTransfer?.getData("text/plain") ?? "";
    if (wholeSelected) clearDigits();
    for (const character of text) {
      if (/[0-9]/.test(character) && digits.length < max) digits.push(character);
    }
  } else if (event.inputType === "deleteContentBackward" && !wholeSelected) {
    digits.pop();
  } else if (event.inputType.startsWith("delete")) {
    clearDigits();
  }
  pinInput.value = MASK.repeat(digits.length);
  if ($("message").textContent && !busy) showMessage("");
});
// An edit the browser did not announce (none expected): back to what `digits` holds.
pinInput.addEventListener("input", () => {
  if (pinInput.value !== MASK.repeat(digits.length)) pinInput.value = MASK.repeat(digits.length);
});
// Copying the field would copy only the mask; refuse it rather than surprise anyone.
pinInput.addEventListener("copy", (event) => event.preventDefault());
pinInput.addEventListener("cut", (event) => event.preventDefault());
// Capture phase: a dropped key reaches nothing, not even Enter's submission.
window.addEventListener(
  "keydown",
  (event) => {
    if (keysAccepted) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    guardKeys();
  },
  true,
);
window.addEventListener("focus", () => guardKeys());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") guardKeys();
});
pinForm.addEventListener("submit", (event) => onSubmit(/** @type {SubmitEvent} */ (event)));
$("cancel").addEventListener("click", cancel);
$("close").addEventListener("click", () => window.close());
$("over-close").addEventListener("click", () => window.close());
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  event.preventDefault();
  if (!$("ask").hidden) cancel();
  else window.close();
});

guardKeys();
start();
