// End-to-end in real browsers with the real native host (CPX_CONNECT_HOST, e.g. target/debug/cpx-connect)
// talking to a card in pcscd (the virtual card in vpcd), from a page that serves the page library
// at /static/cpx-connect.js: CPX_CONNECT_PAGE_URL (e.g. the demo site's https://localhost:8443/),
// or this suite's own HTTPS test page.
//
//   CPX_CONNECT_HOST=$PWD/target/debug/cpx-connect CPX_CONNECT_TEST_PIN=1234 npm test
//
// The suite inserts a virtual card itself (CPX_VIRTUAL_CARD, by default `cpx-virtual-card` next to
// the host binary) in vpcd's first slot, with CPX_CONNECT_TEST_PIN, while holding
// /tmp/cpx-connect-pcscd.lock; pcscd must be running (scripts/start-pcscd.sh). Set
// CPX_VIRTUAL_CARD=none to use a card that is already there. Without CPX_CONNECT_HOST this file
// reports its suites as skipped, with the reason.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eventually, launch } from "../lib/browsers.mjs";
import { loginOutcome, pageStatus, startLogin, waitForPage, waitForPinKeys } from "../lib/page-driver.mjs";
import { ARTIFACTS_DIR, realHostPath, skipReason } from "../lib/paths.mjs";
import { acquirePcscdLock } from "../lib/pcscd-lock.mjs";
import { startTestSite } from "../lib/site.mjs";
import { certificateOfSignedToken, tokenOfLogin } from "../lib/token.mjs";
import { insertVirtualCard } from "../lib/virtual-card.mjs";
import { dirname, join } from "node:path";

const hostPath = realHostPath();
const PIN = process.env.CPX_CONNECT_TEST_PIN ?? "1234";
const TEST_TIMEOUT_MS = 90_000;

for (const kind of /** @type {const} */ (["chromium", "firefox"])) {
  const skip = hostPath ? skipReason(kind) : "set CPX_CONNECT_HOST to the cpx-connect binary to run the real-host suite";
  describe(`${kind}: extension with the real native host`, { skip }, () => {
    /** @type {() => Promise<void>} */
    let releaseLock;
    /** @type {(() => Promise<void>) | undefined} */
    let removeCard;
    /** The holder of the card we inserted (unknown for a card already there). */
    let insertedHolder = "";
    /** @type {{ url: string, origin: string, close: () => Promise<void> } | undefined} */
    let ownSite;
    let pageUrl = process.env.CPX_CONNECT_PAGE_URL ?? "";

    before(async () => {
      releaseLock = await acquirePcscdLock();
      const cardBinary = process.env.CPX_VIRTUAL_CARD ?? join(dirname(/** @type {string} */ (hostPath)), "cpx-virtual-card");
      if (cardBinary !== "none") {
        removeCard = await insertVirtualCard(cardBinary, { pin: PIN, holder: "dupont" });
        insertedHolder = "MARIE DUPONT";
      }
      if (!pageUrl) {
        ownSite = await startTestSite();
        pageUrl = ownSite.url;
      }
    });
    after(async () => {
      await ownSite?.close();
      await removeCard?.();
      await releaseLock?.();
    });

    /** @param {import("node:test").TestContext} t */
    async function setUp(t) {
      const browser = await launch(kind, { hostPath: /** @type {string} */ (hostPath) });
      t.after(() => browser.close());
      const page = await browser.openPage(pageUrl);
      await waitForPage(page);
      return { browser, page, origin: new URL(pageUrl).origin };
    }

    test("status sees the PC/SC service and a card: ready, and nothing about which", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page } = await setUp(t);
      const outcome = await pageStatus(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      if (!outcome.ok) return;
      assert.equal(outcome.value.host.protocol, 1);
      assert.equal(outcome.value.ready, true, JSON.stringify(outcome.value));
      assert.deepEqual(Object.keys(outcome.value).sort(), ["extension", "host", "ready"]);
    });

    test("a wrong PIN, then the right one: a token the card signed over this origin", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, origin } = await setUp(t);
      const nonce = randomBytes(32).toString("base64");
      await startLogin(page, nonce, { lang: "fr" });
      const pin = await browser.waitForExtensionWindow("pin.html", 30_000);
      await pin.waitForFunction(() => !document.getElementById("ask")?.hidden);
      const before = Number((await pin.evaluate(() => document.getElementById("tries")?.textContent ?? "")).match(/\d+/)?.[0]);
      // A wrong PIN different from the right one (same length).
      const wrong = PIN.split("").map((digit) => String((Number(digit) + 1) % 10)).join("");
      await waitForPinKeys(pin);
      await pin.type("#pin", wrong);
      await pin.press("Enter");
      await pin.waitForFunction(() => document.getElementById("message")?.textContent === "Code incorrect.", undefined, 30_000);
      const afterWrong = Number((await pin.evaluate(() => document.getElementById("tries")?.textContent ?? "")).match(/\d+/)?.[0]);
      if (Number.isFinite(before) && Number.isFinite(afterWrong)) assert.equal(afterWrong, before - 1);
      await pin.screenshot(join(ARTIFACTS_DIR, `${kind}-real-host-wrong-pin.png`));
      await pin.type("#pin", PIN);
      await pin.press("Enter");
      const token = await tokenOfLogin(page);
      assert.equal(token.format, "web-eid:1.0");
      assert.equal(token.algorithm, "RS256");
      certificateOfSignedToken(token, origin, nonce);
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");
    });

    test("the toolbar popup shows the host, the reader and the card holder", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser } = await setUp(t);
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 4, undefined, 30_000);
      const text = await popup.evaluate(() => document.getElementById("checks")?.textContent ?? "");
      assert.match(text, /Installé, version \d+\.\d+/);
      assert.match(text, /En fonctionnement/);
      assert.match(text, /carte CPS3 insérée/);
      if (insertedHolder) assert.ok(text.includes(insertedHolder), text);
      await popup.screenshot(join(ARTIFACTS_DIR, `${kind}-real-host-popup.png`));
    });

    test("Annuler gives ERR_USER_CANCELLED without spending a try", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await setUp(t);
      await startLogin(page, randomBytes(32).toString("base64"));
      const pin = await browser.waitForExtensionWindow("pin.html", 30_000);
      await pin.waitForFunction(() => !document.getElementById("ask")?.hidden);
      await pin.click("#cancel");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok ? "ok" : outcome.code, "ERR_USER_CANCELLED");
    });
  });
}
