// The demo flow with every real piece: the `cpx-demo` relying party, the extension, the real
// native host (CPX_CONNECT_HOST) and the virtual card in pcscd, in Chromium and Firefox. What a
// health professional does: link the card once, then log in with the card alone; and what they
// read when the PIN is wrong, when they cancel, with no card, without the host, or on a site the
// administrator did not allow.
//
//   cargo build --bins && node extension/build.mjs          # from the repository root
//   CPX_CONNECT_HOST=$PWD/../../target/debug/cpx-connect npm test   # in tests/browser
//
// `cpx-demo` and `cpx-virtual-card` are taken next to the host binary (or CPX_DEMO_BIN,
// CPX_VIRTUAL_CARD). Each browser run gets its own demo site with a fresh SQLite file and the
// virtual card (Dupont, PIN 1234) in vpcd's first slot, under /tmp/cpx-connect-pcscd.lock.
// Without CPX_CONNECT_HOST the suites are skipped with the reason; under CI=true anything else
// missing is a failure, not a skip.

import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually, launch } from "../lib/browsers.mjs";
import {
  FIRST_SLOT_READER,
  clickCardButton,
  hostStatus,
  insertLoggedVirtualCard,
  isVerify,
  isVerifyWithPin,
  pageState,
  recordingHostWrapper,
  startDemoSite,
  statusWordOf,
  waitForCardError,
  waitForPath,
} from "../lib/demo-site.mjs";
import { waitForPage, waitForPinKeys } from "../lib/page-driver.mjs";
import { seriousViolations } from "../lib/axe.mjs";
import { ARTIFACTS_DIR, REPO_ROOT, besideHost, realHostPath, realHostSkipReason } from "../lib/paths.mjs";
import { startPcscdRun } from "../lib/pcscd-lock.mjs";
import { writeAllowedOriginsPolicy } from "../lib/policy.mjs";

const TEST_TIMEOUT_MS = 90_000;
const PIN = "1234";
const WRONG_PIN = "2345";
const ACCOUNT = { username: "marie.dupont", password: "demo1234" };
/** What the card of the virtual holder Dupont says about her (tests/virtual-card/fixtures). */
const CARD = { holder: "MARIE DUPONT", profession: "Médecin", idNat: "810001234567" };
const TRUST_ANCHOR = join(REPO_ROOT, "tests", "virtual-card", "fixtures", "test-ca.der");

/** The French messages of web/src/messages.rs the page must show. */
const MESSAGES = {
  cancelled: "Connexion annulée. Vous pouvez réessayer quand vous le souhaitez.",
  noCard: "Aucune carte détectée. Insérez votre carte CPS dans le lecteur.",
  hostNotInstalled:
    "Le module CPx Connect n'est pas installé sur ce poste. Installez-le (ou demandez-le à votre service informatique), puis réessayez.",
  originNotAllowed:
    "La connexion par carte CPS n'est pas autorisée pour ce site sur ce poste. Contactez votre service informatique.",
};

const hostPath = realHostPath();
const demoBinary = process.env.CPX_DEMO_BIN ?? besideHost("cpx-demo");
const cardBinary = process.env.CPX_VIRTUAL_CARD ?? besideHost("cpx-virtual-card");

/**
 * Waits for the error in #card-status after the click marked `marker`, and checks it: the French
 * message, its code, and the same page (not reloaded since the click).
 * @param {any} page @param {string} marker @param {string} message @param {string} code
 */
async function cardErrorAfter(page, marker, message, code) {
  const state = await waitForCardError(page);
  assert.equal(state.status, message);
  assert.equal(state.statusCode, code);
  assert.equal(state.reloadMarker, marker, "the page was not reloaded");
  return state;
}

for (const kind of /** @type {const} */ (["chromium", "firefox"])) {
  describe(`${kind}: the demo site's card login with the real host and card`, { skip: realHostSkipReason(kind, "the demo flow", [demoBinary, cardBinary, TRUST_ANCHOR]) }, () => {
    /** @type {Awaited<ReturnType<typeof startPcscdRun>> | undefined} */
    let run;
    /** @type {import("../lib/demo-site.mjs").LoggedCard | undefined} */
    let card;
    /** @type {Awaited<ReturnType<typeof startDemoSite>>} */
    let site;

    before(async () => {
      run = await startPcscdRun(`cpx-demo-flow-${kind}-`);
      card = await insertLoggedVirtualCard(cardBinary, { pin: PIN, holder: "dupont" });
      site = await startDemoSite({ binary: demoBinary, trustAnchor: TRUST_ANCHOR, workDir: run.dir });
    });
    after(async () => {
      await site?.close();
      await card?.remove();
      await run?.release();
    });

    /**
     * A fresh browser with the extension and the real host (through a wrapper that records its
     * starts), or with no host manifest at all; the demo's login page open.
     * @param {import("node:test").TestContext} t
     * @param {{ installHost?: boolean }} [options]
     */
    async function openDemo(t, { installHost = true } = {}) {
      const workDir = mkdtempSync(join(tmpdir(), `cpx-${kind}-`));
      const host = recordingHostWrapper(workDir, /** @type {string} */ (hostPath));
      const browser = await launch(kind, { hostPath: installHost ? host.path : null, workDir });
      t.after(() => browser.close());
      const page = await browser.openPage(site.url);
      await waitForPage(page);
      return { browser, page, host };
    }

    /** @param {string} name */
    const artifact = (name) => join(ARTIFACTS_DIR, `${kind}-demo-${name}.png`);

    /**
     * Screenshots the page with the card status line in view (headless Chromium's window is
     * shorter than the login page).
     * @param {any} page
     * @param {string} name
     */
    async function screenshotWithStatus(page, name) {
      await page.evaluate(() => document.getElementById("card-status")?.scrollIntoView({ block: "center" }));
      await page.screenshot(artifact(name));
    }

    /**
     * Waits for the extension's PIN window and checks that it names this site and the card
     * holder; returns it with what it shows.
     * @param {Awaited<ReturnType<typeof launch>>} browser
     */
    async function pinWindow(browser) {
      const pin = await browser.waitForExtensionWindow("pin.html", 30_000);
      await pin.waitForFunction(() => !document.getElementById("ask")?.hidden, undefined, 30_000);
      const shown = await pin.evaluate(() => ({
        origin: document.getElementById("origin")?.textContent ?? "",
        card: document.getElementById("single-card-details")?.textContent ?? "",
        tries: document.getElementById("tries")?.textContent ?? "",
      }));
      assert.equal(shown.origin, site.origin, "the PIN window names the site that asks");
      assert.ok(shown.card.includes(CARD.holder), `the PIN window names the card holder: ${shown.card}`);
      return { pin, shown };
    }

    /** @param {any} pin @param {string} digits */
    async function typePin(pin, digits) {
      await waitForPinKeys(pin);
      await pin.type("#pin", digits);
      await pin.press("Enter");
    }

    /** @param {any} page */
    async function assertAccountShowsCard(page) {
      const state = await waitForPath(page, "/compte");
      assert.equal(state.heading, "Mon compte");
      for (const text of [CARD.holder, CARD.profession, CARD.idNat]) {
        assert.ok(state.main.includes(text), `/compte shows ${text}: ${state.main}`);
      }
      assert.ok(state.main.includes(ACCOUNT.username), state.main);
      return state;
    }

    /** The card in the slot; a scenario that needs it fails if an earlier one could not put it back. */
    function insertedCard() {
      assert.ok(card, "the virtual card is in the reader");
      return card;
    }

    /** VERIFY commands that carried a PIN, since `mark`, with their status words. */
    const verifiesSince = (/** @type {number} */ mark) =>
      insertedCard().apdus(mark).filter(isVerifyWithPin).map(statusWordOf);

    test("1. first card login: PIN, link the account on /lier, then /compte shows the card", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page, host } = await openDemo(t);
      const mark = insertedCard().mark();
      const button = await page.evaluate(() => document.getElementById("card-login-button")?.textContent?.trim());
      assert.equal(button, "S'identifier par carte CPS");
      assert.deepEqual(await seriousViolations(page), [], "axe-core: the demo's login page");
      await clickCardButton(page, "login page");
      const { pin, shown } = await pinWindow(browser);
      assert.equal(shown.tries, "3 essais restants");
      await typePin(pin, PIN);

      const link = await waitForPath(page, "/lier");
      assert.equal(link.heading, "Connectez votre compte professionnel à votre carte CPS");
      for (const text of [CARD.holder, CARD.profession, CARD.idNat]) {
        assert.ok(link.main.includes(text), `/lier shows ${text}: ${link.main}`);
      }
      await page.screenshot(artifact("lier"));
      assert.deepEqual(await seriousViolations(page), [], "axe-core: the demo's /lier page");
      await page.type("#username", ACCOUNT.username);
      await page.type("#password", ACCOUNT.password);
      await page.click('form[action="/lier"] button[type="submit"]');

      await assertAccountShowsCard(page);
      await page.screenshot(artifact("compte"));
      assert.deepEqual(await seriousViolations(page), [], "axe-core: the demo's /compte page");
      assert.deepEqual(verifiesSince(mark), ["9000"], "one VERIFY, with the PIN typed, accepted by the card");
      assert.ok(host.launches().length >= 1, "the browser started the real host");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");
    });

    test("2. after logging out, the card button alone logs in to /compte", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await openDemo(t);
      // Log in with the password (the card was linked in scenario 1), then log out.
      await page.type("#username", ACCOUNT.username);
      await page.type("#password", ACCOUNT.password);
      await page.click('form[action="/connexion"] button[type="submit"]');
      const account = await waitForPath(page, "/compte");
      assert.ok(!account.main.includes("Aucune carte CPS n'est associée"), "scenario 1 links the card first: run the suite in order");
      await assertAccountShowsCard(page);
      await page.click('form[action="/deconnexion"] button[type="submit"]');
      const loggedOut = await waitForPath(page, "/");
      assert.ok(loggedOut.main.includes("Vous êtes déconnecté."), loggedOut.main);

      const mark = insertedCard().mark();
      await clickCardButton(page, "after logout");
      const { pin } = await pinWindow(browser);
      await typePin(pin, PIN);
      // Straight to /compte: a linked card needs no /lier step.
      await assertAccountShowsCard(page);
      assert.deepEqual(verifiesSince(mark), ["9000"]);
    });

    test("3. a wrong PIN is reported with the tries left, then the right one logs in", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await openDemo(t);
      const mark = insertedCard().mark();
      await clickCardButton(page, "wrong pin");
      const { pin, shown } = await pinWindow(browser);
      assert.equal(shown.tries, "3 essais restants");
      await typePin(pin, WRONG_PIN);
      await pin.waitForFunction(() => document.getElementById("message")?.textContent === "Code incorrect.", undefined, 30_000);
      const triesAfterWrong = await pin.evaluate(() => document.getElementById("tries")?.textContent ?? "");
      assert.equal(triesAfterWrong, "2 essais restants");
      await pin.screenshot(artifact("wrong-pin"));
      // The extension never retries by itself: one VERIFY so far, refused with 2 tries left.
      assert.deepEqual(verifiesSince(mark), ["63C2"]);
      assert.equal((await pageState(page))?.path, "/", "the page waits on the login page");

      await typePin(pin, PIN);
      await assertAccountShowsCard(page);
      assert.deepEqual(verifiesSince(mark), ["63C2", "9000"]);
    });

    test("4. Annuler in the PIN window: the French cancel message, no reload, no VERIFY", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { browser, page } = await openDemo(t);
      const mark = insertedCard().mark();
      await clickCardButton(page, "before cancel");
      const { pin } = await pinWindow(browser);
      await pin.click("#cancel");
      const state = await cardErrorAfter(page, "before cancel", MESSAGES.cancelled, "ERR_USER_CANCELLED");
      assert.equal(state.path, "/");
      await screenshotWithStatus(page, "cancelled");
      assert.deepEqual(await seriousViolations(page), [], "axe-core: the demo's login page with an error");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");
      const apdus = insertedCard().apdus(mark);
      assert.ok(apdus.length > 0, "the host did read the card (certificates) before the PIN window");
      assert.deepEqual(apdus.filter(isVerify), [], "no VERIFY reached the card");
    });

    test("5. no card in the reader: the page says to insert it", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      await card?.remove();
      card = undefined;
      t.after(async () => {
        card = await insertLoggedVirtualCard(cardBinary, { pin: PIN, holder: "dupont" });
      });
      await eventually(
        async () => (await hostStatus(/** @type {string} */ (hostPath))).readers.some((reader) => reader.name === FIRST_SLOT_READER && reader.card === null),
        "pcscd to see the card gone",
        15_000,
      );
      const { browser, page } = await openDemo(t);
      await clickCardButton(page, "no card");
      await cardErrorAfter(page, "no card", MESSAGES.noCard, "ERR_NO_CARD");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0, "no PIN window without a card");
      await screenshotWithStatus(page, "no-card");
    });

    test("6. host not installed: the page says so", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { page, host } = await openDemo(t, { installHost: false });
      // The page checks at load time, before any click...
      const onLoad = await waitForCardError(page);
      assert.equal(onLoad.status, MESSAGES.hostNotInstalled);
      // ...and a click gives the same answer.
      await clickCardButton(page, "no host");
      await cardErrorAfter(page, "no host", MESSAGES.hostNotInstalled, "ERR_HOST_NOT_INSTALLED");
      await screenshotWithStatus(page, "host-not-installed");
      assert.deepEqual(host.launches(), []);
    });

    test("7. a site outside the managed allowedOrigins is refused and the host is never asked", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const policy = writeAllowedOriginsPolicy(kind, ["https://portail.example.fr"]);
      t.after(() => policy.remove());
      const mark = insertedCard().mark();
      const { browser, page, host } = await openDemo(t);
      await clickCardButton(page, "refused origin");
      await cardErrorAfter(page, "refused origin", MESSAGES.originNotAllowed, "ERR_ORIGIN_NOT_ALLOWED");
      assert.equal(await browser.countExtensionWindows("pin.html"), 0, "no PIN window for a refused site");
      await screenshotWithStatus(page, "origin-refused");
      assert.deepEqual(host.launches(), [], "the browser never started the host");
      assert.deepEqual(insertedCard().apdus(mark), [], "nothing reached the card");
    });
  });
}
