// The demo site as an OpenID Connect client of cpx-idp, with every real piece: the demo site
// (`cpx-demo`), the provider (`cpx-idp`, over HTTPS with a certificate of a throw-away CA, as
// `make demo` runs it), the extension, the real native host and the virtual card in pcscd, in
// Chromium and Firefox ESR. The administrator's `allowedOrigins` lists the provider's origin
// only: the card is used on the provider's page, never on the site's.
//
//   cargo build --bins && node extension/build.mjs          # from the repository root
//   CPX_CONNECT_HOST=$PWD/../../target/debug/cpx-connect npm test   # in tests/browser
//
// `cpx-demo`, `cpx-idp` and `cpx-virtual-card` are taken next to the host binary (or
// CPX_DEMO_BIN, CPX_IDP_BIN, CPX_VIRTUAL_CARD). Without CPX_CONNECT_HOST the suites are skipped
// with the reason; under CI=true anything else missing is a failure, not a skip.

import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventually, launch } from "../lib/browsers.mjs";
import {
  clickCardButton,
  freePort,
  insertLoggedVirtualCard,
  isVerifyWithPin,
  startDemoSite,
  startProvider,
  statusWordOf,
  waitForState,
} from "../lib/demo-site.mjs";
import { waitForPage, waitForPinKeys } from "../lib/page-driver.mjs";
import { ARTIFACTS_DIR, REPO_ROOT, besideHost, realHostPath, realHostSkipReason } from "../lib/paths.mjs";
import { startPcscdRun } from "../lib/pcscd-lock.mjs";
import { writeAllowedOriginsPolicy } from "../lib/policy.mjs";

/** Generous: a loaded 2-core machine runs two servers, a browser, the host and pcscd. */
const TEST_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 60_000;
const PIN = "1234";
const ACCOUNT = { username: "marie.dupont", password: "demo1234" };
const CARD = { holder: "MARIE DUPONT", idNat: "810001234567" };
const TRUST_ANCHOR = join(REPO_ROOT, "tests", "virtual-card", "fixtures", "test-ca.der");

const hostPath = realHostPath();
const demoBinary = process.env.CPX_DEMO_BIN ?? besideHost("cpx-demo");
const idpBinary = process.env.CPX_IDP_BIN ?? besideHost("cpx-idp");
const cardBinary = process.env.CPX_VIRTUAL_CARD ?? besideHost("cpx-virtual-card");

for (const kind of /** @type {const} */ (["chromium", "firefox"])) {
  describe(`${kind}: the demo site through cpx-idp (OpenID Connect), real host and card`, { skip: realHostSkipReason(kind, "the OpenID Connect flow", [demoBinary, idpBinary, cardBinary, TRUST_ANCHOR]) }, () => {
    /** @type {Awaited<ReturnType<typeof startPcscdRun>> | undefined} */
    let run;
    /** @type {import("../lib/demo-site.mjs").LoggedCard | undefined} */
    let card;
    /** @type {Awaited<ReturnType<typeof startDemoSite>> | undefined} */
    let site;
    /** @type {Awaited<ReturnType<typeof startProvider>> | undefined} */
    let provider;
    /** @type {{ remove: () => void } | undefined} */
    let policy;

    before(async () => {
      run = await startPcscdRun(`cpx-oidc-flow-${kind}-`);
      // Both ports first: each server names the other in its configuration.
      const sitePort = await freePort();
      const providerPort = await freePort();
      const siteOrigin = `https://localhost:${sitePort}`;
      provider = await startProvider({ binary: idpBinary, trustAnchor: TRUST_ANCHOR, workDir: run.dir, port: providerPort, siteOrigin });
      site = await startDemoSite({
        binary: demoBinary,
        trustAnchor: TRUST_ANCHOR,
        workDir: run.dir,
        port: sitePort,
        extraArgs: ["--oidc-issuer", provider.origin, "--oidc-client-id", provider.clientId,
          "--oidc-client-secret-file", provider.secretFile, "--oidc-provider-ca", provider.caFile],
      });
      policy = writeAllowedOriginsPolicy(kind, [provider.origin]);
      card = await insertLoggedVirtualCard(cardBinary, { pin: PIN, holder: "dupont" });
    });
    after(async () => {
      policy?.remove();
      await site?.close();
      await provider?.close();
      await card?.remove();
      await run?.release();
    });

    /** @param {string} name */
    const artifact = (name) => join(ARTIFACTS_DIR, `${kind}-oidc-${name}.png`);

    /**
     * Waits until the page shows `path` of `origin`, loaded.
     * @param {any} page @param {string} origin @param {string} path
     */
    const waitForPlace = (page, origin, path) =>
      waitForState(page, (state) => state.origin === origin && state.path === path && state.ready, `${origin}${path}`, STEP_TIMEOUT_MS);

    /** The site's login page, the OIDC button, and the provider's login page. */
    async function toProviderLogin(/** @type {any} */ page) {
      const server = /** @type {NonNullable<typeof site>} */ (site);
      const idp = /** @type {NonNullable<typeof provider>} */ (provider);
      await waitForPlace(page, server.origin, "/");
      await page.click("#oidc-login-button");
      return waitForPlace(page, idp.origin, "/login");
    }

    /** At the provider: « S'identifier par carte CPS », the PIN window (which names the provider), the PIN. */
    async function cardAtProvider(/** @type {any} */ browser, /** @type {any} */ page) {
      const idp = /** @type {NonNullable<typeof provider>} */ (provider);
      const mark = /** @type {NonNullable<typeof card>} */ (card).mark();
      await clickCardButton(page, "provider login");
      const pin = await browser.waitForExtensionWindow("pin.html", STEP_TIMEOUT_MS);
      await pin.waitForFunction(() => !document.getElementById("ask")?.hidden, undefined, STEP_TIMEOUT_MS);
      const shown = await pin.evaluate(() => ({
        origin: document.getElementById("origin")?.textContent ?? "",
        card: document.getElementById("single-card-details")?.textContent ?? "",
      }));
      assert.equal(shown.origin, idp.origin, "the PIN window names the provider, where the card is used");
      assert.ok(shown.card.includes(CARD.holder), shown.card);
      await waitForPinKeys(pin);
      await pin.type("#pin", PIN);
      await pin.press("Enter");
      return mark;
    }

    /** VERIFY commands with a PIN since `mark`, with their status words. */
    const verifiesSince = (/** @type {number} */ mark) =>
      /** @type {NonNullable<typeof card>} */ (card).apdus(mark).filter(isVerifyWithPin).map(statusWordOf);

    test("site → cpx-idp → card and PIN → back at the site, linked, logged in; logout ends both sessions", { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const server = /** @type {NonNullable<typeof site>} */ (site);
      const idp = /** @type {NonNullable<typeof provider>} */ (provider);
      const workDir = mkdtempSync(join(tmpdir(), `cpx-${kind}-`));
      const browser = await launch(kind, { hostPath, workDir });
      t.after(() => browser.close());
      const page = await browser.openPage(server.url);
      await waitForPage(page);
      const label = await page.evaluate(() => document.getElementById("oidc-login-button")?.textContent?.trim());
      assert.equal(label, "Se connecter avec CPx Connect (OpenID Connect)");

      await toProviderLogin(page);
      const providerButton = await page.evaluate(() => document.getElementById("card-login-button")?.textContent?.trim());
      assert.equal(providerButton, "S'identifier par carte CPS", "the provider's page, in French for a French browser");
      await page.screenshot(artifact("provider-login"));
      const mark = await cardAtProvider(browser, page);

      // First time: the site's linking step, then the account.
      const link = await waitForPlace(page, server.origin, "/lier");
      assert.equal(link.heading, "Connectez votre compte professionnel à votre carte CPS");
      assert.ok(link.main.includes(CARD.idNat), link.main);
      assert.ok(link.main.includes("OpenID Connect"), link.main);
      await page.type("#username", ACCOUNT.username);
      await page.type("#password", ACCOUNT.password);
      await page.click('form[action="/lier"] button[type="submit"]');
      const account = await waitForPlace(page, server.origin, "/compte");
      assert.ok(account.main.includes(ACCOUNT.username), account.main);
      assert.ok(account.main.includes(`${idp.origin} a vérifié`), `/compte names the provider: ${account.main}`);
      await page.screenshot(artifact("compte"));
      assert.deepEqual(verifiesSince(mark), ["9000"], "one VERIFY, with the PIN typed, accepted by the card");
      await eventually(async () => (await browser.countExtensionWindows("pin.html")) === 0, "the PIN window to close");

      // Logout: through the provider's end_session_endpoint, back to the site's login page.
      await page.click('form[action="/deconnexion"] button[type="submit"]');
      const loggedOut = await waitForPlace(page, server.origin, "/");
      assert.ok(loggedOut.main.includes("Vous êtes déconnecté."), loggedOut.main);

      // The provider's session ended too: the button leads to its login page again (with a
      // live session it would send the browser straight back), and the card logs in alone.
      await toProviderLogin(page);
      const again = await cardAtProvider(browser, page);
      const second = await waitForPlace(page, server.origin, "/compte");
      assert.ok(second.main.includes(ACCOUNT.username), second.main);
      assert.deepEqual(verifiesSince(again), ["9000"]);
      assert.ok(idp.log().includes("serving"), "the provider served the run");
    });
  });
}
