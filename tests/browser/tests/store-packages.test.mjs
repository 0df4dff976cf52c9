// The store uploads load in the real browsers: the Chrome Web Store / Edge Add-ons zip unpacked
// into Chromium, the Firefox xpi installed into Firefox ESR (as a temporary add-on: the store
// signs it, this build is unsigned). Each must start its background, report the packaged version
// and show its popup, the page a store reviewer opens first.
//
//   node extension/package.mjs --out DIR   # what the release uploads; this file builds its own

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { packageAll } from "../../../extension/package.mjs";
import { readCrx3 } from "../../../extension/tools/crx.mjs";
import { unzip } from "../../../extension/tools/zip.mjs";
import { BROWSERS, IDS, skipReason } from "../lib/paths.mjs";

const VERSION = "0.1.0.9";
const work = mkdtempSync(join(tmpdir(), "cpx-store-packages-"));
// maxRetries: the packer's helper processes may still be writing into its HOME for a moment.
after(() => rmSync(work, { recursive: true, force: true, maxRetries: 10 }));
const built = packageAll({ out: join(work, "packages"), version: VERSION });

test("Chromium loads the store zip", { skip: skipReason("chromium"), timeout: 60_000 }, async (t) => {
  const unpacked = join(work, "chromium-store");
  for (const [name, bytes] of unzip(readFileSync(built.files.chromiumZip))) {
    mkdirSync(dirname(join(unpacked, name)), { recursive: true });
    writeFileSync(join(unpacked, name), bytes);
  }
  const { chromium } = await import("playwright-core");
  const context = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
    executablePath: BROWSERS.chromium,
    headless: true,
    ignoreDefaultArgs: ["--disable-extensions"],
    args: [`--disable-extensions-except=${unpacked}`, `--load-extension=${unpacked}`],
    env: { ...process.env, HOME: join(work, "chromium-home") },
  });
  t.after(() => context.close());
  const worker = context.serviceWorkers().find((w) => w.url().endsWith("/background/background.js")) ??
    (await context.waitForEvent("serviceworker", { timeout: 15_000 }));
  const manifest = await worker.evaluate(() => chrome.runtime.getManifest());
  assert.equal(manifest.version, VERSION);
  assert.equal(manifest.key, undefined, "the store refuses a key: it assigns the id");
  // Without a key the id is derived from the folder, never one of ours.
  const id = new URL(worker.url()).host;
  assert.ok(!IDS.allowedChromeExtensionIds.includes(id), id);
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${id}/popup.html`);
  await popup.waitForFunction(() => document.body.innerText.trim().length > 0);
});

test("Firefox ESR installs the xpi", { skip: skipReason("firefox"), timeout: 60_000 }, async (t) => {
  const { default: puppeteer } = await import("puppeteer-core");
  const internalUuid = crypto.randomUUID();
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: BROWSERS.firefox,
    headless: true,
    userDataDir: join(work, "firefox-profile"),
    env: { ...process.env, HOME: join(work, "firefox-home") },
    args: ["--remote-allow-system-access"],
    extraPrefsFirefox: { "extensions.webextensions.uuids": JSON.stringify({ [IDS.firefoxAddonId]: internalUuid }) },
  });
  t.after(() => browser.close());
  assert.equal(await browser.installExtension(built.files.xpi), IDS.firefoxAddonId);
  const page = await browser.newPage();
  // BiDi never reports the load of a moz-extension:// page: start it, then read it.
  page.goto(`moz-extension://${internalUuid}/popup.html`, { timeout: 5_000 }).catch(() => {});
  const deadline = Date.now() + 15_000;
  let version;
  while (Date.now() < deadline && version !== VERSION) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    version = await page.evaluate(() => /** @type {any} */ (globalThis).browser?.runtime.getManifest().version).catch(() => undefined);
  }
  assert.equal(version, VERSION);
  await page.waitForFunction(() => document.body.innerText.trim().length > 0, { timeout: 15_000 });
});

test("Chromium's own --pack-extension writes the CRX3 format package.mjs writes, with the same id", { skip: skipReason("chromium"), timeout: 60_000 }, () => {
  // package.mjs signs the CRX itself (reproducible bytes, no browser on the release machine);
  // Chromium's packer is the reference for the format: our reader must accept its file, and the
  // same key must give the same id both ways.
  const keyFile = join(work, "pack-key.pem");
  writeFileSync(keyFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }));
  const ours = packageAll({ out: join(work, "ours"), version: VERSION, crxKey: keyFile, updateUrl: "https://updates.example.test/updates.xml" });
  const source = join(work, "pack-source");
  for (const [name, bytes] of unzip(readCrx3(readFileSync(/** @type {string} */ (ours.files.crx))).archive)) {
    mkdirSync(dirname(join(source, name)), { recursive: true });
    writeFileSync(join(source, name), bytes);
  }
  execFileSync(BROWSERS.chromium, ["--headless", "--no-sandbox", `--pack-extension=${source}`, `--pack-extension-key=${keyFile}`], {
    env: { ...process.env, HOME: join(work, "pack-home") },
    stdio: "ignore",
    timeout: 30_000,
  });
  const theirs = readCrx3(readFileSync(`${source}.crx`));
  assert.equal(theirs.id, ours.crxId);
  assert.deepEqual(JSON.parse(String(unzip(theirs.archive).get("manifest.json"))).version, VERSION);
});
