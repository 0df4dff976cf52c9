// The administrator's `allowedOrigins` policy, written machine-wide for one test and removed
// after it (an existing file is never overwritten). Chromium reads /etc/chromium/policies/managed/*.json
// at start-up; Firefox reads policies.json from its distribution folder.

import { existsSync, mkdirSync, realpathSync, rmSync, rmdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BROWSERS, IDS } from "./paths.mjs";

const CHROMIUM_POLICY_DIR = process.env.CPX_CHROMIUM_POLICY_DIR ?? "/etc/chromium/policies/managed";

/**
 * @param {"chromium" | "firefox"} kind
 * @param {string[]} allowedOrigins
 * @returns {{ file: string, remove: () => void }}
 */
export function writeAllowedOriginsPolicy(kind, allowedOrigins) {
  if (kind === "chromium") {
    const createdDirs = [CHROMIUM_POLICY_DIR, dirname(CHROMIUM_POLICY_DIR)].filter((dir) => !existsSync(dir));
    mkdirSync(CHROMIUM_POLICY_DIR, { recursive: true });
    const file = join(CHROMIUM_POLICY_DIR, `cpx-connect-browser-test-${process.pid}.json`);
    const policy = { "3rdparty": { extensions: { [IDS.chromeExtensionId]: { allowedOrigins } } } };
    writeFileSync(file, JSON.stringify(policy, null, 2));
    return { file, remove: () => removeAndPrune(file, createdDirs) };
  }
  const distribution = join(dirname(realpathSync(firefoxInstallDir())), "distribution");
  const file = join(distribution, "policies.json");
  if (existsSync(file)) {
    throw new Error(`${file} already exists; refusing to replace someone's Firefox policy`);
  }
  const createdDirs = existsSync(distribution) ? [] : [distribution];
  mkdirSync(distribution, { recursive: true });
  const policy = { policies: { "3rdparty": { Extensions: { [IDS.firefoxAddonId]: { allowedOrigins } } } } };
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return { file, remove: () => removeAndPrune(file, createdDirs) };
}

/** The real firefox binary (the distribution folder sits next to it, not next to /usr/bin/firefox-esr). */
function firefoxInstallDir() {
  const launcher = realpathSync(BROWSERS.firefox);
  const candidate = join(dirname(launcher), "firefox-esr");
  // Debian: /usr/bin/firefox-esr -> /usr/lib/firefox-esr/firefox-esr
  return existsSync(candidate) ? candidate : launcher;
}

/**
 * @param {string} file
 * @param {string[]} dirsWeCreated innermost first
 */
function removeAndPrune(file, dirsWeCreated) {
  rmSync(file, { force: true });
  for (const dir of dirsWeCreated) {
    if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  }
}
