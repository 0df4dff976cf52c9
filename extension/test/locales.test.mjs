// Every error code a user can be shown has a French and an English message, so that no user ever
// sees a raw code.

import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ExtensionErrorCode, HOST_ERROR_CODES, PAGE_LIBRARY_ERROR_CODES } from "../src/shared/errors.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const EXTENSION = join(HERE, "..");

/** @param {string} lang */
const messages = (lang) => JSON.parse(readFileSync(join(EXTENSION, "src", "_locales", lang, "messages.json"), "utf8"));

/** @param {string} dir @returns {string[]} */
function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every ERR_ code written in the given sources. @param {string[]} files */
const codesIn = (files) => new Set(files.flatMap((file) => readFileSync(file, "utf8").match(/"ERR_[A-Z_]*[A-Z]"/g) ?? []).map((code) => code.slice(1, -1)));

const ALL_CODES = [...new Set([...Object.values(ExtensionErrorCode), ...HOST_ERROR_CODES, ...PAGE_LIBRARY_ERROR_CODES])];

test("every error code has a French and an English message", () => {
  for (const lang of ["fr", "en"]) {
    const table = messages(lang);
    const missing = ALL_CODES.filter((code) => typeof table[`err_${code}`]?.message !== "string" || table[`err_${code}`].message.length === 0);
    assert.deepEqual(missing, [], `${lang}: missing err_ messages`);
  }
});

// HOST_ERROR_CODES itself is checked against the host's ErrorCode by host/tests/error_codes.rs.
test("every code the extension's source can raise is on the list", () => {
  const extensionSource = filesUnder(join(EXTENSION, "src")).filter((file) => file.endsWith(".js"));
  const pageLibrary = [join(EXTENSION, "page", "cpx-connect.js")];
  const listed = new Set(ALL_CODES);
  const unlisted = [...codesIn([...extensionSource, ...pageLibrary])].filter((code) => !listed.has(code));
  assert.deepEqual(unlisted, [], "add them to ExtensionErrorCode and to both locales");
});

test("the French and English tables have the same keys", () => {
  assert.deepEqual(Object.keys(messages("en")).sort(), Object.keys(messages("fr")).sort());
});

test("the content script runs on https pages only", () => {
  const template = JSON.parse(readFileSync(join(EXTENSION, "manifest.template.json"), "utf8"));
  const matches = template.content_scripts.flatMap((/** @type {any} */ script) => script.matches);
  assert.deepEqual(matches, ["https://*/*"]);
});
