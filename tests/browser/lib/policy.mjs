// The administrator's managed settings (`allowedOrigins`, `restrictOrigins`), written machine-wide for one test and removed
// after it (an existing file is never overwritten). Chromium reads /etc/chromium/policies/managed/*.json
// at start-up; Firefox reads policies.json from its distribution folder.

import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, rmdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BROWSERS, IDS } from "./paths.mjs";

const CHROMIUM_POLICY_DIR = process.env.CPX_CHROMIUM_POLICY_DIR ?? "/etc/chromium/policies/managed";
const CHROMIUM_FILE_PREFIX = "cpx-connect-browser-test-";
/** Marks a Firefox policies.json as written by these tests (Firefox ignores keys outside "policies"). */
const FIREFOX_MARKER = "cpxConnectBrowserTestPid";

/**
 * @param {"chromium" | "firefox"} kind
 * @param {unknown} allowedOrigins
 * @returns {{ file: string, remove: () => void }}
 */
export function writeAllowedOriginsPolicy(kind, allowedOrigins) {
  return writeManagedSettings(kind, { allowedOrigins });
}

/**
 * The extension's whole managed settings (any keys, any values: the tests write mistakes too).
 * @param {"chromium" | "firefox"} kind
 * @param {Record<string, unknown>} settings
 * @returns {{ file: string, remove: () => void }}
 */
export function writeManagedSettings(kind, settings) {
  removeStalePolicies();
  if (kind === "chromium") {
    const createdDirs = [CHROMIUM_POLICY_DIR, dirname(CHROMIUM_POLICY_DIR)].filter((dir) => !existsSync(dir));
    mkdirSync(CHROMIUM_POLICY_DIR, { recursive: true });
    const file = join(CHROMIUM_POLICY_DIR, `${CHROMIUM_FILE_PREFIX}${process.pid}.json`);
    const policy = { "3rdparty": { extensions: { [IDS.chromeExtensionId]: settings } } };
    writeFileSync(file, JSON.stringify(policy, null, 2));
    return { file, remove: () => removeAndPrune(file, createdDirs) };
  }
  const file = firefoxPolicyFile();
  const distribution = dirname(file);
  if (existsSync(file)) {
    throw new Error(`${file} already exists; refusing to replace someone's Firefox policy`);
  }
  const createdDirs = existsSync(distribution) ? [] : [distribution];
  mkdirSync(distribution, { recursive: true });
  const policy = {
    [FIREFOX_MARKER]: process.pid,
    policies: { "3rdparty": { Extensions: { [IDS.firefoxAddonId]: settings } } },
  };
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return { file, remove: () => removeAndPrune(file, createdDirs) };
}

function firefoxPolicyFile() {
  return join(dirname(realpathSync(firefoxInstallDir())), "distribution", "policies.json");
}

/**
 * A test run that was killed leaves its policy behind, which would refuse every origin in the
 * next run (and for the lead's end-to-end tests): remove files of ours whose process is gone.
 */
export function removeStalePolicies() {
  if (existsSync(CHROMIUM_POLICY_DIR)) {
    for (const name of readdirSync(CHROMIUM_POLICY_DIR)) {
      const pid = Number(name.slice(CHROMIUM_FILE_PREFIX.length, -".json".length));
      if (name.startsWith(CHROMIUM_FILE_PREFIX) && !isAlive(pid)) rmSync(join(CHROMIUM_POLICY_DIR, name), { force: true });
    }
  }
  try {
    const file = firefoxPolicyFile();
    if (existsSync(file)) {
      const pid = JSON.parse(readFileSync(file, "utf8"))[FIREFOX_MARKER];
      if (typeof pid === "number" && !isAlive(pid)) rmSync(file, { force: true });
    }
  } catch {
    // no Firefox here, or someone else's unreadable policy: leave it
  }
}

/** @param {number} pid */
function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
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

/**
 * A whole machine-wide policy for one test (the force-install tests: what an administrator
 * pushes), removed by the returned function. Chromium: a file of ours in the managed folder;
 * Firefox: distribution/policies.json, which must not exist yet. Never replaces a file. The
 * caller holds the pcscd lock (machine-wide state); a killed run's file is removed by the next
 * run (removeStalePolicies: our file names and marker carry the pid).
 * @param {"chromium" | "firefox"} kind
 * @param {Record<string, unknown>} policy Chromium: the policies object; Firefox: `{ policies: ... }`
 * @returns {{ file: string, remove: () => void }}
 */
export function writeBrowserPolicy(kind, policy) {
  removeStalePolicies();
  const file = kind === "chromium" ? join(CHROMIUM_POLICY_DIR, `${CHROMIUM_FILE_PREFIX}${process.pid}.json`) : firefoxPolicyFile();
  const content = kind === "chromium" ? policy : { [FIREFOX_MARKER]: process.pid, ...policy };
  const dirs = kind === "chromium" ? [CHROMIUM_POLICY_DIR, dirname(CHROMIUM_POLICY_DIR)] : [dirname(file)];
  const createdDirs = dirs.filter((dir) => !existsSync(dir));
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, JSON.stringify(content, null, 2), { flag: "wx" });
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === "EEXIST") throw new Error(`${file} already exists; refusing to replace it`);
    throw error;
  }
  return { file, remove: () => removeAndPrune(file, createdDirs) };
}
