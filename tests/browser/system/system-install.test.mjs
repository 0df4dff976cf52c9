// The administrator's installation, end to end: Chromium finds the host only through the
// system-wide manifest (/etc/chromium/native-messaging-hosts/, as the Debian package or
// `cpx-connect install --system` writes it), with no per-profile or per-user manifest, and a card
// login with the virtual card in pcscd succeeds.
//
//   packaging/deb/ci-check.sh      # installs the package, then runs this file
//
// Without a system-wide manifest this file reports its test as skipped, with the reason; with
// CPX_SYSTEM_INSTALL_TEST=1 (what ci-check.sh sets) a missing manifest is a failure instead.
// The virtual card is CPX_VIRTUAL_CARD, else target/debug/cpx-virtual-card (CARGO_TARGET_DIR
// honoured); the test holds /tmp/cpx-connect-pcscd.lock while the card is in vpcd.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually, launch } from "../lib/browsers.mjs";
import { startLogin, waitForPage, waitForPinKeys } from "../lib/page-driver.mjs";
import { IDS, REPO_ROOT, skipReason } from "../lib/paths.mjs";
import { acquirePcscdLock } from "../lib/pcscd-lock.mjs";
import { startTestSite } from "../lib/site.mjs";
import { certificateOfSignedToken, tokenOfLogin } from "../lib/token.mjs";
import { insertVirtualCard } from "../lib/virtual-card.mjs";

const SYSTEM_MANIFEST = join(
  process.env.CPX_CHROMIUM_SYSTEM_HOSTS_DIR ?? "/etc/chromium/native-messaging-hosts",
  `${IDS.nativeHostName}.json`,
);
const PIN = process.env.CPX_CONNECT_TEST_PIN ?? "1234";
const VIRTUAL_CARD =
  process.env.CPX_VIRTUAL_CARD ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO_ROOT, "target"), "debug", "cpx-virtual-card");
/** idNat of the virtual card's holder Dupont (tests/virtual-card fixtures). */
const DUPONT_ID_NAT = "810001234567";
const TEST_TIMEOUT_MS = 90_000;

// The host logs under the browser's HOME only when nothing redirects it: this test checks there.
delete process.env.CPX_CONNECT_LOG_DIR;
delete process.env.XDG_STATE_HOME;

function skip() {
  const browserMissing = skipReason("chromium");
  if (browserMissing) return browserMissing;
  if (existsSync(SYSTEM_MANIFEST)) return false;
  const reason = `no system-wide manifest at ${SYSTEM_MANIFEST} (install the Debian package, then run \`cpx-connect install --system --dev --browser chromium\`)`;
  if (process.env.CPX_SYSTEM_INSTALL_TEST === "1" || process.env.CI === "true") throw new Error(`CPX_SYSTEM_INSTALL_TEST=1 or CI=true, and ${reason}`);
  return reason;
}

describe("chromium: the host registered system-wide only", { skip: skip() }, () => {
  /** @type {() => Promise<void>} */
  let releaseLock;
  /** @type {(() => Promise<void>) | undefined} */
  let removeCard;
  /** @type {Awaited<ReturnType<typeof startTestSite>> | undefined} */
  let site;

  before(async () => {
    releaseLock = await acquirePcscdLock();
    removeCard = await insertVirtualCard(VIRTUAL_CARD, { pin: PIN, holder: "dupont" });
    site = await startTestSite();
  });
  after(async () => {
    await site?.close();
    await removeCard?.();
    await releaseLock?.();
  });

  test("a card login through the system-wide manifest", { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const manifest = JSON.parse(readFileSync(SYSTEM_MANIFEST, "utf8"));
    assert.equal(manifest.name, IDS.nativeHostName);
    assert.equal(manifest.type, "stdio");
    assert.ok(isAbsolute(manifest.path) && existsSync(manifest.path), manifest.path);
    // The release ids (extension/ids.json), then the development build's, which this test loads:
    // the package admits release ids only, and ci-check.sh adds this one with `install --system --dev`.
    assert.deepEqual(manifest.allowed_origins, [...IDS.allowedChromeExtensionIds, IDS.chromeExtensionId].map((/** @type {string} */ id) => `chrome-extension://${id}/`));

    // hostPath null: the harness writes no manifest into the profile.
    const browser = await launch("chromium", { hostPath: null });
    t.after(() => browser.close());
    const home = join(browser.workDir, "home");
    for (const perUser of [join(browser.workDir, "profile", "NativeMessagingHosts"), join(home, ".config", "chromium", "NativeMessagingHosts")]) {
      assert.equal(existsSync(join(perUser, `${IDS.nativeHostName}.json`)), false, perUser);
    }

    const page = await browser.openPage(/** @type {NonNullable<typeof site>} */ (site).url);
    await waitForPage(page);
    const origin = new URL(/** @type {NonNullable<typeof site>} */ (site).url).origin;
    const nonce = randomBytes(32).toString("base64");
    await startLogin(page, nonce, { lang: "fr" });
    const pin = await browser.waitForExtensionWindow("pin.html", 30_000);
    await waitForPinKeys(pin);
    await pin.type("#pin", PIN);
    await pin.press("Enter");
    const token = await tokenOfLogin(page);
    assert.equal(token.format, "web-eid:1.0");
    const certificate = certificateOfSignedToken(token, origin, nonce);
    assert.ok(certificate.subject.includes(DUPONT_ID_NAT), certificate.subject);
    await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");

    // The host that answered is the one the system manifest names: it logged in the browser's HOME.
    const logs = join(home, ".local", "state", "cpx-connect");
    assert.ok(existsSync(logs) && readdirSync(logs).some((file) => file.startsWith("cpx-connect")), `no host log in ${logs}`);
  });
});
