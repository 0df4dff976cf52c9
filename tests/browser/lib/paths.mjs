// Where things are, and the two knobs that turn the fake-host suite into an end-to-end one:
// CPX_CONNECT_HOST (the host binary) and CPX_CONNECT_PAGE_URL (the login page).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BROWSER_TESTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = resolve(BROWSER_TESTS_DIR, "../..");
export const EXTENSION_DIR = join(REPO_ROOT, "extension");
export const ARTIFACTS_DIR = join(BROWSER_TESTS_DIR, "artifacts");
export const PAGE_LIBRARY = join(EXTENSION_DIR, "page", "cpx-connect.js");

export const IDS = JSON.parse(readFileSync(join(EXTENSION_DIR, "ids.json"), "utf8"));

export const BROWSERS = {
  chromium: process.env.CPX_CHROMIUM ?? "/usr/lib/chromium/chromium",
  firefox: process.env.CPX_FIREFOX ?? "/usr/bin/firefox-esr",
};

/** The real host when CPX_CONNECT_HOST is set (e.g. target/debug/cpx-connect), else undefined. */
export function realHostPath() {
  const path = process.env.CPX_CONNECT_HOST;
  return path ? resolve(path) : undefined;
}

/** @param {"chromium" | "firefox"} kind */
export function builtExtension(kind) {
  return join(EXTENSION_DIR, "dist", kind);
}

/**
 * Whether a browser can run here. Under CI=true a missing browser is an error, never a skip.
 * @param {"chromium" | "firefox"} kind
 * @returns {string | false} a skip reason, or false to run
 */
export function skipReason(kind) {
  if (existsSync(BROWSERS[kind])) return false;
  const reason = `${kind} not found at ${BROWSERS[kind]} (apt-get install -y chromium firefox-esr)`;
  if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
  return reason;
}

/**
 * A binary built next to the real host (cpx-demo, cpx-idp, cpx-virtual-card), or "" without
 * CPX_CONNECT_HOST.
 * @param {string} name
 */
export function besideHost(name) {
  const hostPath = realHostPath();
  return hostPath ? join(dirname(hostPath), name) : "";
}

/**
 * Whether a suite of the real host with the files it needs beside it (binaries, the test CA) can
 * run here. Only an unset CPX_CONNECT_HOST is a plain skip; under CI=true a missing file or
 * browser fails the run.
 * @param {"chromium" | "firefox"} kind
 * @param {string} suite what the suite runs, for the skip reason (e.g. "the demo flow")
 * @param {string[]} needed
 * @returns {string | false} a skip reason, or false to run
 */
export function realHostSkipReason(kind, suite, needed) {
  const hostPath = realHostPath();
  if (!hostPath) return `set CPX_CONNECT_HOST to the cpx-connect binary to run ${suite}`;
  const missing = [hostPath, ...needed].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    const reason = `not found: ${missing.join(", ")} (cargo build --bins)`;
    if (process.env.CI === "true") throw new Error(`CI=true and ${reason}`);
    return reason;
  }
  return skipReason(kind);
}
