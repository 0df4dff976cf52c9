// The toolbar popup's checks, from the background's diagnose() report: is everything in place for
// a card login, and if not, what to do about it. Pure (no browser API), so it is unit-tested.

import { formatDate } from "./i18n.js";

const EXPIRY_WARNING_DAYS = 30;

/**
 * @typedef {{ state: "ok" | "problem" | "warn", title: string, detail?: string, fix?: string, items?: string[], code?: string }} Check
 */

/**
 * @param {any} report the background's diagnose() answer
 * @param {(key: string, ...substitutions: (string | number)[]) => string} t
 * @param {string} lang
 * @returns {Check[]}
 */
export function checksFrom(report, t, lang) {
  /** @type {Check[]} */
  const checks = [];
  // The administrator's policy first: it decides whether any site may ask, whatever the card.
  checks.push(policyCheck(report.policy, t));
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
  const contactless = readers.some((/** @type {any} */ reader) => reader.card?.state === "contactless");
  checks.push({
    state: anyCard && !contactless ? "ok" : anyCard ? "warn" : "problem",
    title: t("popupReaders"),
    items: readers.map(
      (/** @type {any} */ reader) => `${reader.name} : ${cardLine(reader.card, t)}`,
    ),
    fix: !anyCard ? t("popupNoCardFix") : contactless ? t("popupCardContactlessFix") : undefined,
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
  return checks;
}

/**
 * What a reader holds, said gracefully whatever the host reports: a type or state this popup
 * does not know is shown as the host names it.
 * @param {any} card
 * @param {(key: string, ...substitutions: (string | number)[]) => string} t
 */
export function cardLine(card, t) {
  if (!card || typeof card !== "object") return t("popupCardAbsent");
  // The host's `state` (host/PROTOCOL.md): `ready`, `contactless` (a CPS3 on the contactless
  // pad, which cannot sign), `unsupported`; older hosts send none.
  if (card.state === "contactless") return t("popupCardContactless");
  const type = typeof card.type === "string" && card.type !== "unknown" ? card.type : "";
  const line = type ? t("popupCardPresent", type) : t("popupCardUnknown");
  const known = card.state === undefined || card.state === "ready" || card.state === "unsupported";
  return known || typeof card.state !== "string" ? line : `${line} (${t("popupCardState", card.state)})`;
}

/**
 * The effective policy, always shown: which sites may ask, or that none may and why.
 * @param {any} policy the background's view of the managed policy (origin.js OriginPolicy)
 * @param {(key: string, ...substitutions: (string | number)[]) => string} t
 * @returns {Check}
 */
export function policyCheck(policy, t) {
  if (!policy || policy.state === "unset") return { state: "ok", title: t("popupPolicy"), detail: t("popupPolicyNone") };
  const entries = Array.isArray(policy.entries) ? policy.entries : [];
  // Each entry as it is matched (normalised), or why it is invalid.
  const items = entries.map((/** @type {any} */ entry) =>
    entry.pattern ? String(entry.shown ?? entry.entry) : t("popupPolicyInvalidEntry", JSON.stringify(entry.entry), String(entry.problem ?? "")),
  );
  if (policy.state === "malformed") {
    return { state: "problem", title: t("popupPolicy"), detail: t("popupPolicyMalformed"), items: [String(policy.reason ?? ""), ...items], fix: t("popupPolicyFix") };
  }
  if (entries.length === 0) {
    return { state: "problem", title: t("popupPolicy"), detail: t("popupPolicyNoneAllowed"), fix: t("popupPolicyFix") };
  }
  return { state: "ok", title: t("popupPolicy"), items };
}
