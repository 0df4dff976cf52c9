// The toolbar popup: is everything in place for a card login, and if not, what to do about it.
// Each check shows its state and, when it fails, the fix.

import { api } from "../shared/browser.js";
import { PopupAction } from "../shared/messages.js";
import { formatDate, loadStrings, translatePage } from "./i18n.js";

const EXPIRY_WARNING_DAYS = 30;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const { t, lang } = await loadStrings(undefined);
document.documentElement.lang = lang;
translatePage(document, t);

/**
 * @typedef {{ state: "ok" | "problem" | "warn", title: string, detail?: string, fix?: string, items?: string[], code?: string }} Check
 */

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
  render(report ? checksFrom(report) : [{ state: "problem", title: t("popupHostCrashed"), fix: t("popupHostCrashedFix") }]);
  $("versions").textContent = report
    ? `${t("popupExtension")} ${report.extension.version}${report.host.ok ? ` · ${t("popupHost")} ${report.host.value.version}` : ""}`
    : "";
}

/**
 * @param {any} report
 * @returns {Check[]}
 */
export function checksFrom(report) {
  /** @type {Check[]} */
  const checks = [];
  if (!report.host.ok) {
    const code = report.host.error.code;
    const [title, fix] =
      code === "ERR_HOST_INCOMPATIBLE"
        ? [t("popupHostIncompatible"), t("popupHostIncompatibleFix")]
        : code === "ERR_HOST_NOT_INSTALLED"
          ? [t("popupHostMissing"), t("popupHostMissingFix")]
          : [t("popupHostCrashed"), t("popupHostCrashedFix")];
    checks.push({ state: "problem", title: t("popupHost"), detail: title, fix, code });
    return checks;
  }
  checks.push({ state: "ok", title: t("popupHost"), detail: t("popupHostOk", report.host.value.version) });

  const status = report.status.ok ? report.status.value : null;
  if (!status || status.service !== "ok") {
    checks.push({
      state: "problem",
      title: t("popupService"),
      detail: t("popupServiceDown"),
      fix: t("popupServiceDownFix"),
      code: report.status.ok ? undefined : report.status.error.code,
    });
    return checks;
  }
  checks.push({ state: "ok", title: t("popupService"), detail: t("popupServiceOk") });

  const readers = Array.isArray(status.readers) ? status.readers : [];
  if (readers.length === 0) {
    checks.push({ state: "problem", title: t("popupReaders"), detail: t("popupNoReader"), fix: t("popupNoReaderFix") });
    return checks;
  }
  const anyCard = readers.some((/** @type {any} */ reader) => reader.card);
  checks.push({
    state: anyCard ? "ok" : "problem",
    title: t("popupReaders"),
    items: readers.map(
      (/** @type {any} */ reader) =>
        `${reader.name} : ${reader.card ? t("popupCardPresent", reader.card.type) : t("popupCardAbsent")}`,
    ),
    fix: anyCard ? undefined : t("popupNoCardFix"),
  });
  if (!anyCard) return checks;

  const certificates = report.certificates.ok ? report.certificates.value : [];
  if (certificates.length === 0) {
    const code = report.certificates.ok ? undefined : report.certificates.error.code;
    const known = code ? t(`err_${code}`) : "";
    checks.push({
      state: "problem",
      title: t("popupCertificates"),
      detail: known && known !== `err_${code}` ? known : t("popupNoCertificate"),
      code,
    });
    return checks;
  }
  for (const certificate of certificates) {
    const holder = certificate.holder ?? {};
    const name = [holder.givenName, holder.surname].filter(Boolean).join(" ") || holder.idNat || certificate.certificateId;
    const notAfter = certificate.notAfter ? new Date(certificate.notAfter).getTime() : NaN;
    const date = formatDate(certificate.notAfter, lang);
    const lines = [];
    /** @type {Check["state"]} */
    let state = "ok";
    if (Number.isNaN(notAfter)) {
      // nothing to say about the expiry
    } else if (notAfter < Date.now()) {
      state = "problem";
      lines.push(t("popupCertExpired", date));
    } else if (notAfter - Date.now() < EXPIRY_WARNING_DAYS * 86_400_000) {
      state = "warn";
      lines.push(t("popupCertExpiresSoon", date));
    } else {
      lines.push(t("popupCertExpires", date));
    }
    const retriesLeft = certificate.pin?.retriesLeft;
    if (retriesLeft === 0) {
      state = "problem";
      lines.push(t("popupBlocked"));
    } else if (typeof retriesLeft === "number") {
      if (retriesLeft < (certificate.pin?.maxRetries ?? retriesLeft) && state === "ok") state = "warn";
      lines.push(t("popupTriesLeft", retriesLeft));
    }
    checks.push({
      state,
      title: `${name}${holder.profession ? ` – ${holder.profession}` : ""}`,
      detail: `${certificate.cardType ?? ""} · ${certificate.reader ?? ""}`,
      items: lines,
    });
  }
  if (Array.isArray(report.allowedOrigins) && report.allowedOrigins.length > 0) {
    checks.push({ state: "ok", title: t("popupPolicy"), items: report.allowedOrigins.map(String) });
  }
  return checks;
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
