#!/usr/bin/env node
// Chromium installs the released CRX by policy alone, from the folder's updates.xml:
//   node tests/release/chromium.mjs UPDATES_XML_URL EXTENSION_ID VERSION
// Writes ExtensionInstallForcelist into /etc/chromium/policies/managed (run inside
// /work/tools/isolated.sh: its /etc is a throw-away copy), starts headless Chromium with a fresh
// profile and no extension switch (tests/browser/lib/force-install.mjs), and waits until the
// extension reports itself installed by the administrator at that version. Exit 0 when it is.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchPolicyChromium } from "../browser/lib/force-install.mjs";

const [updateUrl, id, version] = process.argv.slice(2);
if (!updateUrl || !id || !version) {
  console.error("usage: chromium.mjs UPDATES_XML_URL EXTENSION_ID VERSION");
  process.exit(2);
}
const INSTALL_TIMEOUT_MS = 60_000;

const policyDir = "/etc/chromium/policies/managed";
mkdirSync(policyDir, { recursive: true });
const policyFile = join(policyDir, "cpx-connect-release-test.json");
// DeveloperToolsAvailability 1: the driver may open the extension's page (policy-installed
// extensions refuse DevTools by default); an administrator leaves it out.
writeFileSync(policyFile, JSON.stringify({ ExtensionInstallForcelist: [`${id};${updateUrl}`], DeveloperToolsAvailability: 1 }));

const home = mkdtempSync(join(tmpdir(), "cpx-release-chromium-"));
const context = await launchPolicyChromium(home);
try {
  let info;
  let last = "";
  const deadline = Date.now() + INSTALL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const page = await context.newPage();
    try {
      await page.goto(`chrome-extension://${id}/popup.html`);
      info = await page.evaluate(() => chrome.management.getSelf());
      break;
    } catch (error) {
      last = String(error).split("\n")[0];
    } finally {
      await page.close().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.ok(info, `extension ${id} never appeared (last error: ${last})`);
  assert.equal(info.version, version);
  assert.equal(info.installType, "admin");
  assert.equal(info.mayDisable, false);
  console.log(`chromium: ${id} ${info.version} installed by policy (installType ${info.installType})`);
} finally {
  await context.close().catch(() => {});
  rmSync(home, { recursive: true, force: true });
  rmSync(policyFile, { force: true });
}
