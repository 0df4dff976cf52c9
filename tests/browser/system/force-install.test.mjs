// The administrator's path, end to end: the extension arrives by policy alone, then a user logs
// in to the demo site with the virtual card through the host of the Debian package.
//
//   packaging/deb/ci-check.sh      # installs the package, then runs this file
//
// Chromium: ExtensionInstallForcelist (id;update URL) and 3rdparty allowedOrigins written into
// /etc/chromium/policies/managed/ with manifests/generate.mjs's own function, a CRX3 + updates.xml
// built by extension/package.mjs with a throw-away key and served over local HTTPS, a fresh
// profile, no extension flag. Installed by policy = management says installType "admin" and the
// user may not disable it. Then a newer version served: the browser finds it through the
// policy's update URL, and after a restart the new version is installed, still by policy, and logs in.
// Firefox ESR: policies.json (ExtensionSettings force_installed, install_url file:// to the
// unsigned .xpi, 3rdparty allowedOrigins, and xpinstall.signatures.required false, which only
// ESR, Developer Edition and Nightly honour: production needs an xpi signed by Mozilla).
//
// The host is /usr/bin/cpx-connect (CPX_FORCE_INSTALL_HOST overrides it, e.g. target/debug/cpx-connect
// on a developer machine). Without it the file reports its tests as skipped; with
// CPX_SYSTEM_INSTALL_TEST=1 (ci-check.sh) a missing piece is a failure. The machine-wide
// lock /tmp/cpx-connect-pcscd.lock is held while the card is in vpcd and the policy files exist.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { chromiumPolicy, firefoxPolicies } from "../../../manifests/generate.mjs";
import { eventually } from "../lib/browsers.mjs";
import { clickCardButton, startDemoSite, waitForPath } from "../lib/demo-site.mjs";
import {
  buildPackages,
  launchPolicyChromium,
  launchPolicyFirefox,
  registerHostForUser,
  startPackageServer,
  throwawayKey,
} from "../lib/force-install.mjs";
import { IDS, REPO_ROOT, skipReason } from "../lib/paths.mjs";
import { waitForPinKeys } from "../lib/page-driver.mjs";
import { acquirePcscdLock } from "../lib/pcscd-lock.mjs";
import { writeBrowserPolicy } from "../lib/policy.mjs";
import { insertVirtualCard } from "../lib/virtual-card.mjs";

const PACKAGE_HOST = "/usr/bin/cpx-connect";
const HOST = process.env.CPX_FORCE_INSTALL_HOST ?? PACKAGE_HOST;
const TARGET = process.env.CARGO_TARGET_DIR ?? join(REPO_ROOT, "target");
const DEMO = process.env.CPX_DEMO_BIN ?? join(TARGET, "debug", "cpx-demo");
const VIRTUAL_CARD = process.env.CPX_VIRTUAL_CARD ?? join(TARGET, "debug", "cpx-virtual-card");
const TRUST_ANCHOR = join(REPO_ROOT, "tests", "virtual-card", "fixtures", "test-ca.der");
const PIN = process.env.CPX_CONNECT_TEST_PIN ?? "1234";
const FIRST = "0.1.0.1";
const NEWER = "0.1.0.2";
const TEST_TIMEOUT_MS = 120_000;
/** The extension updater and Firefox's policy engine work at start-up, in the background. */
const INSTALL_TIMEOUT_MS = 30_000;

/** @param {"chromium" | "firefox"} kind */
function skip(kind) {
  const browserMissing = skipReason(kind);
  if (browserMissing) return browserMissing;
  const missing = [HOST, DEMO, VIRTUAL_CARD].filter((path) => !existsSync(path));
  if (missing.length === 0) return false;
  const reason = `not found: ${missing.join(", ")} (install the Debian package, cargo build --bins)`;
  // The package is installed only by ci-check.sh (CPX_SYSTEM_INSTALL_TEST=1), which runs this
  // file; `npm test` does not (tests/ only). A run by hand without the package skips it.
  if (process.env.CPX_SYSTEM_INSTALL_TEST === "1" || process.env.CI === "true") throw new Error(reason);
  return reason;
}

/**
 * The demo's login, from the card button to the account-linking page /lier, which the demo shows
 * only after it validated the token (first login of this card on a fresh database).
 * @param {{ evaluate: Function, waitForFunction: Function, click: Function }} page
 * @param {() => Promise<{ type: Function, press: Function, waitForFunction: Function }>} pinWindow
 */
async function demoLogin(page, pinWindow) {
  await waitForPath(/** @type {any} */ (page), "/");
  await clickCardButton(/** @type {any} */ (page), "force-install");
  const pin = await pinWindow();
  await waitForPinKeys(/** @type {any} */ (pin));
  await pin.type("#pin", PIN);
  await pin.press("Enter");
  const linked = await waitForPath(/** @type {any} */ (page), "/lier");
  assert.equal(linked.heading, "Connectez votre compte professionnel à votre carte CPS");
}

describe("force-install by policy, then a card login on the demo site", () => {
  /** @type {() => Promise<void>} */
  let releaseLock;
  /** @type {(() => Promise<void>) | undefined} */
  let removeCard;
  /** @type {Awaited<ReturnType<typeof startDemoSite>> | undefined} */
  let site;
  /** @type {string} */
  let work;

  before(async () => {
    if (skip("chromium") && skip("firefox")) return;
    work = mkdtempSync(join(tmpdir(), "cpx-force-install-"));
    releaseLock = await acquirePcscdLock();
    removeCard = await insertVirtualCard(VIRTUAL_CARD, { pin: PIN, holder: "dupont" });
    site = await startDemoSite({ binary: DEMO, trustAnchor: TRUST_ANCHOR, workDir: work });
  });
  after(async () => {
    await site?.close();
    await removeCard?.();
    await releaseLock?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("Chromium: ExtensionInstallForcelist with a self-hosted CRX, then an update", { skip: skip("chromium"), timeout: 2 * TEST_TIMEOUT_MS }, async (t) => {
    const demo = /** @type {NonNullable<typeof site>} */ (site);
    const root = join(work, "served");
    mkdirSync(root);
    const server = await startPackageServer(root);
    t.after(() => server.close());
    const keyFile = throwawayKey(join(work, "throwaway-crx-key.pem"));
    const first = buildPackages({ out: join(work, "v1"), version: FIRST, keyFile, updateUrl: server.updateUrl });
    const newer = buildPackages({ out: join(work, "v2"), version: NEWER, keyFile, updateUrl: server.updateUrl });
    const id = /** @type {string} */ (first.crxId);
    server.publish(join(work, "v1"));

    // The policy an administrator pushes, from the generator of manifests/ with this run's id and URL.
    const policy = chromiumPolicy({
      chromeExtensionId: id,
      updateUrl: server.updateUrl,
      firefoxAddonId: IDS.firefoxAddonId,
      firefoxInstallUrl: "",
      nativeHostName: IDS.nativeHostName,
      allowedOrigins: [demo.origin],
    });
    // One addition the template does not have, for the test driver only: by default Chromium
    // refuses DevTools (so CDP, so Playwright) on extensions installed by policy
    // (DeveloperToolsAvailability 0); 1 lets the test open the extension's pages and PIN window.
    const written = writeBrowserPolicy("chromium", { ...policy, DeveloperToolsAvailability: 1 });
    t.after(() => written.remove());

    // The package's manifest admits the channels' ids; this key is a throw-away, so the host is
    // registered for it per user, the way ADMIN.md says for an extension with its own id.
    const home = join(work, "chromium-home");
    mkdirSync(home);
    registerHostForUser(HOST, home, "chromium", id);
    const manifest = JSON.parse(readFileSync(join(home, ".config", "chromium", "NativeMessagingHosts", `${IDS.nativeHostName}.json`), "utf8"));
    assert.equal(manifest.path, HOST);

    /** Opens an extension page and reads the management state of the extension itself. */
    const selfInfo = async (/** @type {import("playwright-core").BrowserContext} */ context) => {
      const page = await context.newPage();
      try {
        await page.goto(`chrome-extension://${id}/popup.html`);
        return await page.evaluate(() => chrome.management.getSelf());
      } finally {
        await page.close().catch(() => {});
      }
    };
    const installed = async (/** @type {import("playwright-core").BrowserContext} */ context, /** @type {string} */ version) => {
      // First the download from the policy's server, then the extension's own view of itself.
      await eventually(() => server.requests.includes(`/cpx-connect-${version}.crx`), `Chromium to download version ${version} (server saw ${server.requests.join(", ")})`, INSTALL_TIMEOUT_MS);
      let info;
      let last = "";
      const deadline = Date.now() + INSTALL_TIMEOUT_MS;
      while (Date.now() < deadline) {
        info = await selfInfo(context).catch((error) => {
          last = String(error).split("\n")[0];
          return undefined;
        });
        if (info?.version === version) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.equal(info?.version, version, `version ${version} of ${id} installed by policy (last seen ${JSON.stringify(info)} ${last})`);
      return /** @type {any} */ (info);
    };

    /** The demo's card login in this browser, the PIN typed in the extension's window. */
    const chromiumLogin = async (/** @type {import("playwright-core").BrowserContext} */ context) => {
      const page = await context.newPage();
      await page.goto(demo.url);
      const pinWindow = async () => {
        const prefix = `chrome-extension://${id}/pin.html`;
        const open = context.pages().find((p) => p.url().startsWith(prefix));
        const pin = open ?? (await context.waitForEvent("page", { predicate: (p) => p.url().startsWith(prefix), timeout: 30_000 }));
        return {
          type: (/** @type {string} */ selector, /** @type {string} */ text) => pin.locator(selector).pressSequentially(text),
          press: (/** @type {string} */ key) => pin.keyboard.press(key),
          waitForFunction: (/** @type {any} */ fn) => pin.waitForFunction(fn, undefined, { timeout: 30_000 }),
        };
      };
      await demoLogin(
        {
          evaluate: (/** @type {any} */ fn, /** @type {any} */ arg) => page.evaluate(fn, arg),
          waitForFunction: (/** @type {any} */ fn) => page.waitForFunction(fn),
          click: (/** @type {string} */ selector) => page.locator(selector).click(),
        },
        pinWindow,
      );
    };

    let context = await launchPolicyChromium(home);
    try {
      const info = await installed(context, FIRST);
      assert.equal(info.installType, "admin", "installed by policy");
      assert.equal(info.mayDisable, false, "the user cannot disable or remove it");
      assert.equal(info.enabled, true);
      assert.ok(server.requests.includes("/updates.xml") && server.requests.includes(`/cpx-connect-${FIRST}.crx`), server.requests.join(", "));

      const policyPage = await context.newPage();
      await policyPage.goto("chrome://policy");
      // chrome://policy is made of shadow DOM, which Playwright's text locators pierce.
      await policyPage.getByText(`${id};${server.updateUrl}`).first().waitFor({ timeout: 15_000 });
      await policyPage.close();

      await chromiumLogin(context);
    } finally {
      await context.close().catch(() => {});
    }

    // The administrator publishes a newer version on the same server. Chromium looks for
    // updates at start-up and every few hours; requestUpdateCheck (what "Update" on
    // chrome://extensions does) asks now. The browser downloads it through the policy's update
    // URL and installs it once the extension is idle, or at the next start: a test driver
    // attached to the service worker keeps it busy, so the test restarts the browser.
    server.publish(join(work, "v2"));
    assert.equal(newer.crxId, id, "the same key keeps the same id");
    context = await launchPolicyChromium(home);
    try {
      assert.equal((await installed(context, FIRST)).installType, "admin", "still installed by policy after a restart");
      const page = await context.newPage();
      await page.goto(`chrome-extension://${id}/popup.html`);
      const check = await page.evaluate(() => chrome.runtime.requestUpdateCheck());
      assert.deepEqual(check, { status: "update_available", version: NEWER });
      await page.close();
      await eventually(() => server.requests.includes(`/cpx-connect-${NEWER}.crx`), `Chromium to download ${NEWER}`, INSTALL_TIMEOUT_MS);
      // Unpacked next to the running version, waiting for it to be idle.
      const versions = join(home, ".config", "chromium", "Default", "Extensions", id);
      await eventually(() => existsSync(versions) && readdirSync(versions).some((name) => name.startsWith(`${NEWER}_`)), `${NEWER} unpacked in the profile`, INSTALL_TIMEOUT_MS);
    } finally {
      await context.close().catch(() => {});
    }
    context = await launchPolicyChromium(home);
    try {
      const info = await installed(context, NEWER);
      assert.equal(info.installType, "admin");
      assert.equal(info.mayDisable, false);
      await chromiumLogin(context);
    } finally {
      await context.close().catch(() => {});
    }
  });

  test("Firefox ESR: ExtensionSettings force_installed from a local .xpi", { skip: skip("firefox"), timeout: TEST_TIMEOUT_MS }, async (t) => {
    const demo = /** @type {NonNullable<typeof site>} */ (site);
    const built = buildPackages({ out: join(work, "firefox"), version: FIRST, keyFile: throwawayKey(join(work, "unused-crx-key.pem")), updateUrl: "https://localhost/unused.xml" });
    const policy = firefoxPolicies({
      chromeExtensionId: "",
      updateUrl: "",
      firefoxAddonId: IDS.firefoxAddonId,
      firefoxInstallUrl: pathToFileURL(built.files.xpi).href,
      nativeHostName: IDS.nativeHostName,
      allowedOrigins: [demo.origin],
    });
    // The test build is unsigned. Release Firefox refuses unsigned add-ons whatever the policy;
    // ESR (also Developer Edition, Nightly) honours xpinstall.signatures.required = false, which
    // the Preferences policy may set. Production: an xpi signed by Mozilla (ADMIN.md).
    const written = writeBrowserPolicy("firefox", {
      policies: { ...policy.policies, Preferences: { "xpinstall.signatures.required": { Value: false, Status: "locked" } } },
    });
    t.after(() => written.remove());

    const home = join(work, "firefox-home");
    mkdirSync(home);
    if (HOST === PACKAGE_HOST) {
      // The package's system-wide manifest already admits the add-on id.
      const manifest = JSON.parse(readFileSync(`/usr/lib/mozilla/native-messaging-hosts/${IDS.nativeHostName}.json`, "utf8"));
      assert.deepEqual(manifest.allowed_extensions, [IDS.firefoxAddonId]);
    } else {
      registerHostForUser(HOST, home, "firefox");
    }

    const internalUuid = randomUUID();
    const browser = await launchPolicyFirefox(home, join(work, "firefox-profile"), internalUuid);
    t.after(() => browser.close().catch(() => {}));
    const origin = `moz-extension://${internalUuid}`;
    const hrefOf = (/** @type {import("puppeteer-core").Page} */ page) => page.evaluate(() => window.location.href).catch(() => "");

    // The add-on's own view of itself: installed by policy, not removable.
    const probe = await browser.newPage();
    /** @type {any} */
    let info;
    await eventually(async () => {
      // BiDi never reports the load of a moz-extension:// page: start it, then read it.
      probe.goto(`${origin}/popup.html`, { timeout: 5_000 }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 500));
      info = await probe.evaluate(() => /** @type {any} */ (globalThis).browser?.management.getSelf()).catch(() => undefined);
      return info?.version === FIRST;
    }, `the add-on installed by policy from ${built.files.xpi}`, INSTALL_TIMEOUT_MS);
    assert.equal(info.installType, "admin", JSON.stringify(info));
    assert.equal(info.mayDisable, false);
    await probe.close();

    const page = await browser.newPage();
    await page.goto(demo.url);
    const pinWindow = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        for (const candidate of await browser.pages()) {
          if (!(await hrefOf(candidate)).startsWith(`${origin}/pin.html`)) continue;
          return {
            type: (/** @type {string} */ selector, /** @type {string} */ text) => candidate.type(selector, text),
            press: (/** @type {string} */ key) => candidate.keyboard.press(/** @type {any} */ (key)).catch(() => {}),
            waitForFunction: (/** @type {any} */ fn) => candidate.waitForFunction(fn, { timeout: 30_000, polling: 100 }),
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("no PIN window");
    };
    await demoLogin(
      {
        evaluate: (/** @type {any} */ fn, /** @type {any} */ arg) => page.evaluate(fn, arg),
        waitForFunction: (/** @type {any} */ fn) => page.waitForFunction(fn, { timeout: 15_000, polling: 100 }),
        click: (/** @type {string} */ selector) => page.click(selector),
      },
      pinWindow,
    );
  });
});
