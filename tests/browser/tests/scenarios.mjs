// The scenarios both browsers run against the fake native host: the extension's own behaviour
// and error paths, from the page library down to the native port and back.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually, launch } from "../lib/browsers.mjs";
import { CORRECT_PIN, fakeCard, installFakeHost, scenario } from "../lib/fake-host.mjs";
import { seriousViolations } from "../lib/axe.mjs";
import { ARTIFACTS_DIR, skipReason } from "../lib/paths.mjs";
import { login, loginOutcome, pageStatus, startLogin, waitForPage, waitForPinKeys } from "../lib/page-driver.mjs";
import { acquirePcscdLock } from "../lib/pcscd-lock.mjs";
import { writeManagedSettings } from "../lib/policy.mjs";
import { startTestSite } from "../lib/site.mjs";
import { certificateOfSignedToken } from "../lib/token.mjs";

const TEST_TIMEOUT_MS = 60_000;
const newNonce = () => randomBytes(32).toString("base64");

/** @param {"chromium" | "firefox"} kind */
export function defineScenarios(kind) {
  const skip = skipReason(kind);
  describe(`${kind}: extension against the fake native host`, { skip, timeout: TEST_TIMEOUT_MS * 20 }, () => {
    /** @type {Awaited<ReturnType<typeof startTestSite>>} */
    let site;
    before(async () => {
      site = await startTestSite();
    });
    after(async () => {
      await site?.close();
    });

    /**
     * A fresh browser with the fake host scripted by `config` (null: no host installed), the
     * test page open; closed when the test ends.
     * @param {import("node:test").TestContext} t
     * @param {Record<string, unknown> | null} config
     */
    async function setUp(t, config) {
      const workDir = mkdtempSync(join(tmpdir(), `cpx-${kind}-`));
      const host = config ? installFakeHost(workDir, config) : null;
      const browser = await launch(kind, { hostPath: host?.path ?? null, workDir });
      t.after(() => browser.close());
      const page = await browser.openPage(site.url);
      await waitForPage(page);
      return { browser, page, host };
    }

    /** @param {string} name */
    const artifact = (name) => join(ARTIFACTS_DIR, `${kind}-${name}.png`);

    /** Types a PIN in the PIN window, once it takes keys, and confirms with Enter. */
    async function typePin(/** @type {any} */ pin, /** @type {string} */ digits) {
      await waitForPinKeys(pin);
      await pin.type("#pin", digits);
      await pin.press("Enter");
    }

    test("status from the page gives the versions and ready, nothing about the readers or the card", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page, host } = await setUp(t, scenario());
      const outcome = await pageStatus(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.deepEqual(Object.keys(outcome.value).sort(), ["extension", "host", "ready"]);
      assert.equal(outcome.value.host.version, "0.0.0-fake");
      assert.equal(outcome.value.host.protocol, 1);
      assert.equal(outcome.value.ready, true);
      assert.doesNotMatch(JSON.stringify(outcome.value), /CPS3|reader|atr/i);
      assert.match(outcome.value.extension.version, /^\d+\.\d+\.\d+$/);
      assert.deepEqual(host?.entries().filter((e) => e.event === "request").map((e) => e.command), ["version", "status"]);
    });

    test("authenticate with the right PIN returns a token signed over this page's origin", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      const nonce = newNonce();
      await startLogin(page, nonce, { lang: "fr" });
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden);
      const shown = await pin.evaluate(() => ({
        origin: document.getElementById("origin")?.textContent,
        heading: document.querySelector("#ask h1")?.textContent,
        tries: document.getElementById("tries")?.textContent,
        focused: document.activeElement?.id,
        type: document.getElementById("pin")?.getAttribute("type"),
        card: document.getElementById("single-card-details")?.textContent,
      }));
      assert.equal(shown.origin, site.origin);
      assert.equal(shown.heading, "Identification par carte CPS");
      assert.equal(shown.tries, "3 essais restants");
      assert.equal(shown.focused, "pin");
      // Not a password field: no password manager offers to save the PIN (pin.js keeps the digits).
      assert.equal(shown.type, "text");
      assert.match(shown.card ?? "", /MARIE DUPONT/);
      await pin.screenshot(artifact("pin-window-fr"));

      await typePin(pin, CORRECT_PIN);
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const token = outcome.value;
      assert.equal(token.format, "web-eid:1.0");
      assert.equal(token.algorithm, "RS256");
      // The signature covers SHA-256(origin) || SHA-256(nonce) with the origin the browser reported.
      certificateOfSignedToken(token, site.origin, nonce);

      const [request] = host?.requests("authenticate") ?? [];
      assert.equal(request.arguments.origin, site.origin);
      assert.equal(request.arguments.challengeNonce, nonce);
      assert.equal(request.arguments.pin, "<4 digits>");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");
    });

    test("a wrong PIN shows the tries left, is never resent, and the right one then succeeds", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await typePin(pin, "9999");
      await pin.waitForFunction(() => document.getElementById("message")?.textContent === "Code incorrect.");
      const after = await pin.evaluate(() => ({
        tries: document.getElementById("tries")?.textContent,
        value: /** @type {HTMLInputElement} */ (document.getElementById("pin")).value,
      }));
      assert.equal(after.tries, "2 essais restants");
      assert.equal(after.value, "", "the PIN field is cleared");
      await pin.screenshot(artifact("pin-window-wrong-pin-fr"));
      // Nothing more reaches the host until the user types again.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(host?.requests("authenticate").length, 1);

      await typePin(pin, CORRECT_PIN);
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(host?.requests("authenticate").length, 2);
    });

    test("a PIN entered wrong until the card blocks shows the blocked state", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const card = fakeCard(0, { retriesLeft: 1 });
      const { browser, page } = await setUp(t, scenario({ certificates: [card] }));
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden);
      assert.match(await pin.evaluate(() => document.getElementById("tries")?.textContent ?? ""), /Dernier essai/);
      await pin.click("#last-try-confirm");
      await typePin(pin, "0000");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.code, "ERR_PIN_BLOCKED");
      await pin.waitForFunction(() => !document.getElementById("blocked").hidden);
      const blocked = await pin.evaluate(() => ({
        title: document.querySelector("#blocked h1")?.textContent,
        hasField: !document.getElementById("ask").hidden,
        advice: document.querySelector("#blocked .panel")?.textContent ?? "",
      }));
      assert.equal(blocked.title, "Votre carte est bloquée");
      assert.equal(blocked.hasField, false);
      assert.match(blocked.advice, /ANS/);
      await pin.screenshot(artifact("pin-window-blocked-fr"));
    });

    test("Annuler, or closing the PIN window, rejects with ERR_USER_CANCELLED", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      let pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden);
      await pin.click("#cancel");
      assert.equal((await loginOutcome(page)).code, "ERR_USER_CANCELLED");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");

      // After a cancel the same tab is refused for a few seconds: the next two go through new tabs.
      const second = await browser.openPage(site.url);
      await waitForPage(second);
      await startLogin(second, newNonce());
      pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden);
      await pin.close();
      assert.equal((await loginOutcome(second)).code, "ERR_USER_CANCELLED");

      const third = await browser.openPage(site.url);
      await waitForPage(third);
      await startLogin(third, newNonce());
      pin = await browser.waitForExtensionWindow("pin.html");
      await waitForPinKeys(pin);
      await pin.press("Escape");
      assert.equal((await loginOutcome(third)).code, "ERR_USER_CANCELLED");
      assert.equal(host?.requests("authenticate").length, 0);
    });

    test("no PIN before the deadline closes the window with ERR_PIN_TIMEOUT", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await setUp(t, scenario());
      // Not the shortest wait a page may ask for (10 s): the window opens only while 5 s are
      // left, and on a loaded 2-core machine starting the host can take most of the other 5.
      await startLogin(page, newNonce(), { timeout: 20_000 });
      await browser.waitForExtensionWindow("pin.html");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.code, "ERR_PIN_TIMEOUT");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");
    });

    test("a page timeout too short to type a PIN is refused without a window", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      // Straight to the content script: the library's own 1 ms + 5 s timer would race the answer.
      const outcome = await page.evaluate(
        (nonce) =>
          new Promise((resolve) => {
            window.addEventListener("message", (event) => {
              if (event.data?.action === "cpx-connect:authenticate-failure") resolve(event.data.error);
              if (event.data?.action === "cpx-connect:authenticate-success") resolve({ code: "success" });
            });
            window.postMessage({ action: "cpx-connect:authenticate", requestId: "short", challengeNonce: nonce, timeout: 1 }, location.origin);
          }),
        newNonce(),
      );
      assert.equal(/** @type {any} */ (outcome).code, "ERR_INVALID_REQUEST", JSON.stringify(outcome));
      assert.equal(await browser.countExtensionWindows("pin.html"), 0);
      assert.equal(host?.requests("certificates").length, 0);
    });

    test("a login asked without a click (at page load) or from a background tab is refused without a window", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      // The page that was open is now a background tab; this one asks at load, with no gesture.
      const auto = await browser.openPage(`${site.url}?autologin`);
      await waitForPage(auto);
      assert.equal((await loginOutcome(auto)).code, "ERR_USER_ACTIVATION_REQUIRED");
      // The test driver's call counts as a gesture, but the tab is not the active one.
      assert.equal((await login(page, newNonce())).code, "ERR_USER_ACTIVATION_REQUIRED");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0);
      assert.equal(host?.requests("certificates").length, 0, "the host is not even asked");
    });

    test("reloading the page ends its login and closes the PIN window; the reloaded page can log in", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden);
      await page.evaluate(() => location.reload());
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the old PIN window to close");
      await waitForPage(page);
      await startLogin(page, newNonce());
      const again = await browser.waitForExtensionWindow("pin.html");
      await typePin(again, CORRECT_PIN);
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(host?.requests("authenticate").length, 1, "no PIN went to the abandoned login");
    });

    test("keyboard only: Tab to the button, Enter, digits, Enter logs in; Escape cancels; tries and errors are live regions", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await setUp(t, scenario());
      await page.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "login");
      await page.press("Enter");
      let pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden && document.activeElement?.id === "pin");
      await waitForPinKeys(pin);
      const regions = await pin.evaluate(() => ({
        tries: document.getElementById("tries")?.getAttribute("aria-live"),
        message: document.getElementById("message")?.getAttribute("role"),
        described: document.getElementById("pin")?.getAttribute("aria-describedby"),
      }));
      assert.deepEqual(regions, { tries: "polite", message: "alert", described: "pin-hint tries message" });
      for (const digit of "9999") await pin.press(digit);
      await pin.press("Enter");
      await pin.waitForFunction(() => document.getElementById("message")?.textContent === "Code incorrect." && document.activeElement?.id === "pin");
      for (const digit of CORRECT_PIN) await pin.press(digit);
      await pin.press("Enter");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));

      const other = await browser.openPage(site.url);
      await waitForPage(other);
      await other.press("Tab");
      await other.press("Enter");
      pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask").hidden && document.activeElement?.id === "pin");
      await waitForPinKeys(pin);
      await pin.press("Escape");
      assert.equal((await loginOutcome(other)).code, "ERR_USER_CANCELLED");
    });

    test("accessibility: axe-core finds no serious or critical violation in the PIN window, the popup and the test page", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const cards = [fakeCard(0, { retriesLeft: 0 }), fakeCard(1)];
      const readers = cards.map((card) => ({ name: card.reader, card: { atr: "3B", type: card.cardType } }));
      const { browser, page } = await setUp(t, scenario({ certificates: cards, readers }));
      assert.deepEqual(await seriousViolations(page), [], "test page");
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => document.querySelectorAll('input[name="certificate"]').length === 2);
      // The blocked card cannot be chosen; the other one is selected.
      const choice = await pin.evaluate(() =>
        [...document.querySelectorAll('input[name="certificate"]')].map((radio) => ({
          disabled: /** @type {HTMLInputElement} */ (radio).disabled,
          checked: /** @type {HTMLInputElement} */ (radio).checked,
        })),
      );
      assert.deepEqual(choice, [{ disabled: true, checked: false }, { disabled: false, checked: true }]);
      assert.deepEqual(await seriousViolations(pin), [], "PIN window, asking");
      await typePin(pin, "9999");
      await pin.waitForFunction(() => document.getElementById("message")?.textContent === "Code incorrect.");
      assert.deepEqual(await seriousViolations(pin), [], "PIN window, wrong PIN");
      await waitForPinKeys(pin);
      await pin.press("Escape");
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 5);
      assert.deepEqual(await seriousViolations(popup), [], "toolbar popup");
    });

    test("no card: the host's ERR_NO_CARD reaches the page and no PIN window opens", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await setUp(t, scenario({ certificates: [], readers: [{ name: "Lecteur vide", card: null }] }));
      const outcome = await login(page, newNonce());
      assert.equal(outcome.code, "ERR_NO_CARD");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0);
    });

    test("no host manifest: ERR_HOST_NOT_INSTALLED", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page } = await setUp(t, null);
      assert.equal((await pageStatus(page)).code, "ERR_HOST_NOT_INSTALLED");
      assert.equal((await login(page, newNonce())).code, "ERR_HOST_NOT_INSTALLED");
    });

    test("a host speaking another protocol: ERR_HOST_INCOMPATIBLE", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page } = await setUp(t, scenario({ protocol: 2 }));
      assert.equal((await pageStatus(page)).code, "ERR_HOST_INCOMPATIBLE");
    });

    test("a host that exits mid-request gives ERR_HOST_CRASHED, and the next request starts a new one", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page, host } = await setUp(t, scenario({ crashOn: "certificates" }));
      assert.equal((await login(page, newNonce())).code, "ERR_HOST_CRASHED");
      const outcome = await pageStatus(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(host?.entries().filter((e) => e.event === "start").length, 2);
    });

    test("a slow host: the page's own timeout gives ERR_TIMEOUT", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page } = await setUp(t, scenario({ delayMs: { status: 4_000 } }));
      const outcome = await pageStatus(page, { timeout: 1_000 });
      assert.equal(outcome.ok ? "ok" : outcome.code, "ERR_TIMEOUT");
    });

    test("one login at a time per tab (ERR_BUSY), while status still answers", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      const second = await page.evaluate(async () => {
        const library = await import(`${location.origin}/static/cpx-connect.js`);
        return library.authenticate("B".repeat(44)).then(() => "ok", (/** @type {any} */ e) => e.code);
      });
      assert.equal(second, "ERR_BUSY");
      const status = await pageStatus(page);
      assert.equal(status.ok, true, JSON.stringify(status));
      await pin.click("#cancel");
      assert.equal((await loginOutcome(page)).code, "ERR_USER_CANCELLED");
      assert.equal(host?.requests("certificates").length, 1, "the refused login never reached the host");
    });

    /**
     * Writes a machine-wide allowedOrigins policy while holding the machine-wide lock (policy
     * folders are shared by every engineer's tests); both go when the test ends.
     * @param {import("node:test").TestContext} t
     * @param {unknown} value
     */
    async function machinePolicy(t, value) {
      await managedSettings(t, { allowedOrigins: value });
    }

    /**
     * The extension's whole managed settings, machine-wide, for one test (as machinePolicy).
     * @param {import("node:test").TestContext} t
     * @param {Record<string, unknown>} settings
     */
    async function managedSettings(t, settings) {
      const release = await acquirePcscdLock();
      try {
        const policy = writeManagedSettings(kind, settings);
        t.after(async () => {
          policy.remove();
          await release();
        });
      } catch (error) {
        await release();
        throw error;
      }
    }

    test("a site outside the managed allowedOrigins is refused without touching the host", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await machinePolicy(t, ["https://portail.example.fr", "https://*.sante.example"]);
      const { page, host } = await setUp(t, scenario());
      const outcome = await login(page, newNonce());
      assert.equal(outcome.code, "ERR_ORIGIN_NOT_ALLOWED");
      assert.equal((await pageStatus(page)).code, "ERR_ORIGIN_NOT_ALLOWED");
      assert.equal(host?.entries().length, 0, "the host was never started");
    });

    test("a malformed allowedOrigins refuses the site and the popup says why", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      // Firefox does no schema check: a plain string reaches the extension. Chromium drops a value
      // that breaks the schema, so it gets a list whose only entry is of a form the extension
      // does not know (Chrome's own "[*.]" pattern syntax).
      const port = new URL(site.origin).port;
      await machinePolicy(t, kind === "firefox" ? site.origin : [`[*.]localhost:${port}`]);
      const { browser, page, host } = await setUp(t, scenario());
      assert.equal((await login(page, newNonce())).code, "ERR_ORIGIN_NOT_ALLOWED");
      assert.equal(host?.entries().length, 0, "the host was never started for a refused site");
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 2);
      const first = await popup.evaluate(() => ({
        text: document.querySelector("#checks > li")?.textContent ?? "",
        state: document.querySelector("#checks > li")?.className,
      }));
      assert.equal(first.state, "problem");
      assert.match(first.text, /mal formée : tous les sites sont refusés/);
      if (kind === "chromium") assert.match(first.text, /entrée invalide "\[\*\.\]localhost/);
      await popup.screenshot(artifact("popup-policy-malformed-fr"));
    });

    test("an http page gets ERR_INSECURE_CONTEXT from the library, and no content script answers it", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const plain = await startTestSite({ insecure: true });
      t.after(() => plain.close());
      const { browser, host } = await setUp(t, scenario());
      const page = await browser.openPage(plain.url);
      await waitForPage(page);
      assert.equal((await login(page, newNonce())).code, "ERR_INSECURE_CONTEXT");
      // Bypassing the library: no content script runs on http pages, so nobody answers.
      const answer = await page.evaluate(
        () =>
          new Promise((resolve) => {
            window.addEventListener("message", (event) => {
              if (typeof event.data?.action === "string" && event.data.action.startsWith("cpx-connect:status-")) resolve(event.data.action);
            });
            window.postMessage({ action: "cpx-connect:status", requestId: "plain" }, location.origin);
            setTimeout(() => resolve("no answer"), 3_000);
          }),
      );
      assert.equal(answer, "no answer");
      assert.equal(host?.requests("status").length, 0);
    });

    test("page messages from another source than the page's window are ignored", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page, host } = await setUp(t, scenario());
      const heard = await page.evaluate(async () => {
        /** @type {string[]} */
        const answers = [];
        window.addEventListener("message", (event) => {
          if (typeof event.data?.action === "string" && event.data.action.endsWith("-ack")) answers.push(event.data.requestId);
        });
        const frame = document.createElement("iframe");
        document.body.append(frame);
        // Same origin, but the source is the frame's window, not the page's.
        frame.contentWindow?.eval(`parent.postMessage({ action: "cpx-connect:status", requestId: "from-frame" }, "${location.origin}")`);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        // Control: the same message from the page itself is answered.
        window.postMessage({ action: "cpx-connect:status", requestId: "from-page" }, location.origin);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return answers;
      });
      assert.deepEqual(heard, ["from-page"]);
      await eventually(() => (host?.requests("status").length ?? 0) === 1, "the page's own status request");
    });

    test("several cards: the PIN window offers a choice and signs with the chosen one", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const cards = [fakeCard(0), fakeCard(1)];
      const { browser, page, host } = await setUp(t, scenario({ certificates: cards }));
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => document.querySelectorAll('input[name="certificate"]').length === 2);
      await pin.screenshot(artifact("pin-window-two-cards-fr"));
      await pin.click("#certificate-1");
      await typePin(pin, CORRECT_PIN);
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.value.unverifiedCertificate, cards[1].certificate);
      assert.equal(host?.requests("authenticate")[0].arguments.certificateId, cards[1].certificateId);
    });

    test("the toolbar popup shows the host, the service, the readers and the cards", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const cards = [fakeCard(0), fakeCard(1, { retriesLeft: 2 })];
      const readers = cards.map((card) => ({ name: card.reader, card: { atr: "3B", type: card.cardType } }));
      const { browser } = await setUp(t, scenario({ certificates: cards, readers }));
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 5);
      const text = await popup.evaluate(() => document.getElementById("checks")?.textContent ?? "");
      assert.match(text, /Tous les sites en https \(aucune règle\)/);
      assert.match(text, /Installé, version 0\.0\.0-fake/);
      assert.match(text, /En fonctionnement/);
      assert.match(text, /carte CPS3 insérée/);
      assert.match(text, /MARIE DUPONT/);
      assert.match(text, /expirant bientôt/);
      assert.match(text, /2 essais de code restants/);
      await popup.screenshot(artifact("popup-fr"));
    });

    test("the toolbar popup explains how to install a missing host", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser } = await setUp(t, null);
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 1);
      const text = await popup.evaluate(() => document.getElementById("checks")?.textContent ?? "");
      assert.match(text, /n'est pas installé/);
      assert.match(text, /cpx-connect install/);
      await popup.screenshot(artifact("popup-host-missing-fr"));
    });

    // ---- issue 18: policy mistakes fail closed, opaque origins, status, the PIN window's keys ----

    test("status without a user gesture gives the versions only: the host is not even asked about the card", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, host } = await setUp(t, scenario());
      const page = await browser.openPage(`${site.url}?autostatus`);
      await waitForPage(page);
      const outcome = await page.evaluate(() => /** @type {any} */ (window).__cpxStatus);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.deepEqual(Object.keys(outcome.value).sort(), ["extension", "host"]);
      assert.deepEqual(host?.entries().filter((e) => e.event === "request").map((e) => e.command), ["version"]);
    });

    test("a site the administrator lists learns from status whether a card is ready, even without a gesture", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await managedSettings(t, { allowedOrigins: [site.origin], restrictOrigins: true });
      const { browser } = await setUp(t, scenario());
      const page = await browser.openPage(`${site.url}?autostatus`);
      await waitForPage(page);
      const outcome = await page.evaluate(() => /** @type {any} */ (window).__cpxStatus);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.value.ready, true);
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 2);
      const first = await popup.evaluate(() => ({ text: document.querySelector("#checks > li")?.textContent ?? "", state: document.querySelector("#checks > li")?.className }));
      assert.equal(first.state, "ok");
      assert.ok(first.text.includes(site.origin), first.text);
    });

    test("a top-level page served with CSP sandbox (opaque origin) is refused and reaches neither the extension nor the host", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, host } = await setUp(t, scenario());
      const page = await browser.openPage(`${site.origin}/sandboxed`);
      await waitForPage(page);
      assert.equal(await page.evaluate(() => window.origin), "null");
      const outcome = await login(page, newNonce());
      assert.equal(outcome.ok ? "ok" : outcome.code, "ERR_INSECURE_CONTEXT", JSON.stringify(outcome));
      // Bypassing the library, to any target: the content script hears only the page's own origin.
      const answer = await page.evaluate(
        () =>
          new Promise((resolve) => {
            window.addEventListener("message", (event) => {
              if (typeof event.data?.action === "string" && event.data.action.startsWith("cpx-connect:authenticate-")) resolve(event.data.action);
            });
            window.postMessage({ action: "cpx-connect:authenticate", requestId: "sandboxed", challengeNonce: "A".repeat(44) }, "*");
            setTimeout(() => resolve("no answer"), 3_000);
          }),
      );
      assert.equal(answer, "no answer");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0);
      assert.equal(host?.entries().length, 0, "the host was never started");
    });

    test("a mistyped allowedOrigins next to restrictOrigins: true refuses every site, and the popup says why", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      // A string instead of a list. Chromium drops it against managed_schema.json, so the extension
      // sees restrictOrigins alone; Firefox passes the string through.
      await managedSettings(t, { allowedOrigins: site.origin, restrictOrigins: true });
      const { browser, page, host } = await setUp(t, scenario());
      assert.equal((await login(page, newNonce())).code, "ERR_ORIGIN_NOT_ALLOWED");
      assert.equal((await pageStatus(page)).code, "ERR_ORIGIN_NOT_ALLOWED");
      // Before the popup opens: its own diagnosis starts the host, as a user's click on it should.
      assert.equal(host?.entries().length, 0, "the host was never started");
      const popup = await browser.openExtensionPage("popup.html");
      const managed = await popup.evaluate(() => (globalThis.browser ?? globalThis.chrome).storage.managed.get(null));
      if (kind === "chromium") assert.deepEqual(managed, { restrictOrigins: true }, "Chromium dropped the mistyped list");
      else assert.deepEqual(managed, { allowedOrigins: site.origin, restrictOrigins: true });
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 2);
      const first = await popup.evaluate(() => ({ text: document.querySelector("#checks > li")?.textContent ?? "", state: document.querySelector("#checks > li")?.className }));
      assert.equal(first.state, "problem");
      assert.match(first.text, /mal formée : tous les sites sont refusés/);
      assert.match(first.text, kind === "chromium" ? /restrictOrigins is true but no valid allowedOrigins/ : /allowedOrigins must be a list/);
      await popup.screenshot(artifact("popup-policy-restricted-fr"));
    });

    test("a miscased policy key refuses every site where the browser passes it on, and the popup names it", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await managedSettings(t, { AllowedOrigins: [site.origin], restrictOrigins: true });
      const { browser, page } = await setUp(t, scenario());
      assert.equal((await login(page, newNonce())).code, "ERR_ORIGIN_NOT_ALLOWED");
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 2);
      const first = await popup.evaluate(() => document.querySelector("#checks > li")?.textContent ?? "");
      // Chromium drops a key its schema does not declare: restrictOrigins alone is what it leaves.
      assert.match(first, kind === "chromium" ? /restrictOrigins is true/ : /AllowedOrigins \(did you mean allowedOrigins\?\)/);
    });

    test("an allowedOrigins entry the URL parser reads as another host (a \\ in it) refuses every site", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      // new URL() reads https://localhost:PORT\.good.fr as https://localhost:PORT: this very site.
      await managedSettings(t, { allowedOrigins: [`${site.origin}\\.good.fr`], restrictOrigins: true });
      const { browser, page } = await setUp(t, scenario());
      assert.equal((await login(page, newNonce())).code, "ERR_ORIGIN_NOT_ALLOWED");
      const popup = await browser.openExtensionPage("popup.html");
      await popup.waitForFunction(() => document.querySelectorAll("#checks > li").length >= 2);
      const first = await popup.evaluate(() => document.querySelector("#checks > li")?.textContent ?? "");
      assert.match(first, /entrée invalide/);
      assert.match(first, /has no place in an origin/);
    });

    test("keys that arrive as the PIN window shows or takes the focus are dropped, Enter included", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await pin.waitForFunction(() => !document.getElementById("ask")?.hidden);
      // The window takes the focus (as when it pops up in front of a page the user is typing in):
      // the digits and the Enter that follow at once are meant for the page.
      await pin.evaluate(() => window.dispatchEvent(new Event("focus")));
      await pin.type("#pin", CORRECT_PIN);
      await pin.press("Enter");
      const dropped = await pin.evaluate(() => ({
        value: /** @type {HTMLInputElement} */ (document.getElementById("pin")).value,
        keys: document.getElementById("pin-form")?.dataset.keys,
      }));
      assert.deepEqual(dropped, { value: "", keys: "ignored" });
      await waitForPinKeys(pin);
      assert.equal(await pin.evaluate(() => /** @type {HTMLInputElement} */ (document.getElementById("pin")).value), "");
      assert.equal(host?.requests("authenticate").length, 0, "no PIN reached the host");
      await typePin(pin, CORRECT_PIN);
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
    });

    test("the last try needs an explicit confirmation: Enter alone sends nothing", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario({ certificates: [fakeCard(0, { retriesLeft: 1 })] }));
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await typePin(pin, CORRECT_PIN);
      await pin.waitForFunction(() => /cochez la case/.test(document.getElementById("message")?.textContent ?? ""));
      assert.equal(host?.requests("authenticate").length, 0);
      await pin.screenshot(artifact("pin-window-last-try-fr"));
      await pin.click("#last-try-confirm");
      await pin.click("#confirm");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(host?.requests("authenticate").length, 1);
    });

    test("a user who leaves the tab while the card is read gets no PIN window", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await setUp(t, scenario({ delayMs: { certificates: 5_000 } }));
      await startLogin(page, newNonce());
      await eventually(() => (host?.requests("certificates").length ?? 0) === 1, "the card to be listed");
      // Another tab comes to the front before the card answers.
      await browser.openPage(site.url);
      assert.equal((await loginOutcome(page)).code, "ERR_USER_ACTIVATION_REQUIRED");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0);
    });

    test("the PIN field is not a password field and never holds the digits", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await setUp(t, scenario());
      await startLogin(page, newNonce());
      const pin = await browser.waitForExtensionWindow("pin.html");
      await waitForPinKeys(pin);
      await pin.type("#pin", `${CORRECT_PIN}7`);
      const field = await pin.evaluate(() => {
        const input = /** @type {HTMLInputElement} */ (document.getElementById("pin"));
        const form = /** @type {HTMLFormElement} */ (document.getElementById("pin-form"));
        return { type: input.type, value: input.value, autocomplete: input.autocomplete, passwords: document.querySelectorAll('input[type="password"]').length, action: form.getAttribute("action") };
      });
      assert.deepEqual(field, { type: "text", value: "\u2022".repeat(CORRECT_PIN.length + 1), autocomplete: "off", passwords: 0, action: null });
      // Backspace takes the last digit back: what is sent is the PIN, not the mask.
      await pin.press("Backspace");
      await pin.press("Enter");
      const outcome = await loginOutcome(page);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
    });
  });
}
