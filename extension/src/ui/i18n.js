// Strings for the PIN window and the popup. The page may ask for "fr" or "en"; otherwise the
// user's language preferences decide, French by default. The messages come from _locales, read directly
// so that the page's language choice is honoured (runtime i18n only follows the browser).

import { api } from "../shared/browser.js";

export const SUPPORTED_LANGUAGES = ["fr", "en"];

/**
 * @param {string | undefined} requested
 * @returns {Promise<{ lang: string, t: (key: string, ...substitutions: (string | number)[]) => string }>}
 */
export async function loadStrings(requested) {
  const lang = pickLanguage(requested);
  /** @type {Record<string, { message: string }>} */
  let messages = {};
  try {
    const response = await fetch(api.runtime.getURL(`_locales/${lang}/messages.json`));
    messages = await response.json();
  } catch {
    // Fall back to the browser's own lookup below.
  }
  const t = (/** @type {string} */ key, /** @type {(string | number)[]} */ ...substitutions) => {
    const template = messages[key]?.message ?? api.i18n.getMessage(key) ?? key;
    return template.replace(/\$(\d)/g, (_, index) => String(substitutions[Number(index) - 1] ?? ""));
  };
  return { lang, t };
}

/**
 * The page's choice if supported, else the user's preferred content language (what the browser
 * sends as Accept-Language), else the browser's own language, else French.
 * @param {string | undefined} requested
 */
export function pickLanguage(requested) {
  if (requested && SUPPORTED_LANGUAGES.includes(requested)) return requested;
  const preferred = [...(globalThis.navigator?.languages ?? []), api.i18n.getUILanguage?.() ?? ""];
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0];
    if (SUPPORTED_LANGUAGES.includes(base)) return base;
  }
  return "fr";
}

/**
 * Fills every element carrying data-i18n with its string.
 * @param {ParentNode} root
 * @param {(key: string) => string} t
 */
export function translatePage(root, t) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(/** @type {string} */ (element.getAttribute("data-i18n")));
  }
}

/**
 * A date as the user reads it, e.g. "31/12/2027" in French.
 * @param {string | null | undefined} iso
 * @param {string} lang
 */
export function formatDate(iso, lang) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString(lang === "fr" ? "fr-FR" : "en-GB", { year: "numeric", month: "2-digit", day: "2-digit" });
}
