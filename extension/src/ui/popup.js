// The toolbar popup: is everything in place for a card login, and if not, what to do about it.
// Each check shows its state and, when it fails, the fix.

import { api } from "../shared/browser.js";
import { PopupAction } from "../shared/messages.js";
import { checksFrom } from "./checks.js";
import { loadStrings, translatePage } from "./i18n.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const { t, lang } = await loadStrings(undefined);
document.documentElement.lang = lang;
translatePage(document, t);

/** @typedef {import("./checks.js").Check} Check */

async function refresh() {
  $("checking").hidden = false;
  /** @type {HTMLButtonElement} */ ($("refresh")).disabled = true;
  let report;
  try {
    const response = await api.runtime.sendMessage({ action: PopupAction.DIAGNOSE });
    report = response?.result;
  } catch {
    report = undefined;
  }
  $("checking").hidden = true;
  /** @type {HTMLButtonElement} */ ($("refresh")).disabled = false;
  render(report ? checksFrom(report, t, lang) : [{ state: "problem", title: t("popupHostCrashed"), fix: t("popupHostCrashedFix") }]);
  $("versions").textContent = report
    ? `${t("popupExtension")} ${report.extension.version}${report.host.ok ? ` · ${t("popupHost")} ${report.host.value.version}` : ""}`
    : "";
}

/** @param {Check[]} checks */
function render(checks) {
  const marks = { ok: "✓", problem: "✗", warn: "!" };
  $("checks").replaceChildren(
    ...checks.map((check) => {
      const item = document.createElement("li");
      item.className = check.state;
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = marks[check.state];
      const body = document.createElement("div");
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = check.title;
      body.append(title);
      if (check.detail) {
        const detail = document.createElement("div");
        detail.className = "detail";
        detail.textContent = check.detail;
        body.append(detail);
      }
      if (check.items?.length) {
        const list = document.createElement("ul");
        list.append(
          ...check.items.map((text) => {
            const entry = document.createElement("li");
            entry.textContent = text;
            return entry;
          }),
        );
        body.append(list);
      }
      if (check.code) {
        const code = document.createElement("div");
        code.className = "detail";
        code.textContent = t("popupErrorCode", check.code);
        body.append(code);
      }
      item.append(mark, body);
      if (check.fix) {
        const fix = document.createElement("div");
        fix.className = "fix";
        fix.textContent = check.fix;
        item.append(fix);
      }
      return item;
    }),
  );
  document.body.dataset.state = checks.some((check) => check.state === "problem") ? "problem" : "ok";
}

$("refresh").addEventListener("click", () => refresh());
refresh();
