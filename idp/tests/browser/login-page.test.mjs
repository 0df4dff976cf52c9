// cpx-idp's login page with the page script both services serve (web/static/card-login.js), in
// real Chromium against the real cpx-idp binary over HTTPS, with a stand-in page library that
// signs like a card would (WebCrypto, with cpx-verify's test holder key): an English page shows
// each failure as the English sentence with its code in small type, and a good card sends the
// browser back to the site with its code, state and iss.
//
// Needs: the cpx-idp binary (CPX_IDP_BIN, else $CARGO_TARGET_DIR/debug/cpx-idp, else
// target/debug/cpx-idp), openssl (the server's throw-away certificate), Chromium (CHROMIUM,
// else /usr/bin/chromium) and playwright-core from tests/browser/node_modules (`npm ci` there).
// Run: node --test idp/tests/browser/

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { freePort } from "../../../tests/lib/free-port.mjs";
import { launchChromium } from "../../../tests/lib/page-script-chromium.mjs";
import { startServer } from "../../../tests/lib/server.mjs";
import { standInLibrary } from "../../../tests/lib/stand-in-page-library.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");
const PKI = join(REPO, "verify", "testdata", "integrator");
const IDP_BIN =
  process.env.CPX_IDP_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO, "target"), "debug", "cpx-idp");
const STEP_TIMEOUT_MS = 15_000;
const SITE_CALLBACK = "https://site.test/callback";
const SECRET = "a-client-secret-for-the-browser-test-only-0123456789";
const VERIFIER = "dBjftJeZ4CVP-mJ0kXB3qwvdkKKhP4e3c0Lbk7xPsRo";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");

/** A page library whose authenticate() signs with the test holder key, or fails with the code in sessionStorage. */
function stubLibrary() {
  return standInLibrary({ keyDer: join(PKI, "holder.key.der"), certificateDer: join(PKI, "holder.der") });
}

let workDir;
let idp;
let browser;
let base;

before(async () => {
  assert.ok(existsSync(IDP_BIN), `cpx-idp binary not found at ${IDP_BIN}: cargo build -p cpx-idp`);
  workDir = mkdtempSync(join(tmpdir(), "cpx-idp-browser-"));
  const openssl = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    "-keyout", join(workDir, "tls.key"), "-out", join(workDir, "tls.crt"),
  ]);
  assert.equal(openssl.status, 0, `openssl: ${openssl.stderr}`);
  writeFileSync(join(workDir, "cpx-connect.js"), stubLibrary());
  const port = await freePort();
  base = `https://localhost:${port}`;
  const secretSha256 = createHash("sha256").update(SECRET).digest("hex");
  writeFileSync(
    join(workDir, "idp.toml"),
    `issuer = "${base}"
listen = "127.0.0.1:${port}"
page_library = "cpx-connect.js"

[tls]
certificate = "tls.crt"
key = "tls.key"

[[signing_keys]]
kid = "browser-test-1"
file = "rs256.pem"
algorithm = "RS256"
active = true

[trust]
anchors = ["${join(PKI, "root-ca.der")}"]
intermediates = ["${join(PKI, "issuing-ca.der")}"]
crls = ["${join(PKI, "issuing-ca.crl.der")}", "${join(PKI, "root-ca.crl.der")}"]
allow_test_anchors = true

[[clients]]
client_id = "site"
name = "Site de test"
secret_sha256 = "${secretSha256}"
redirect_uris = ["${SITE_CALLBACK}"]
scopes = ["openid", "profile"]
`,
  );
  idp = await startServer("cpx-idp", IDP_BIN, ["serve", "--demo", "--config", join(workDir, "idp.toml")]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await idp?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** An English-speaking browser on the login page of a fresh authorization request. */
async function loginPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB" });
  // The site itself is not there: its callback answers a plain page.
  await context.route("https://site.test/**", (route) => route.fulfill({ status: 200, body: "site" }));
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: "site",
    redirect_uri: SITE_CALLBACK,
    scope: "openid profile",
    state: "st-browser",
    nonce: "n-browser",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
  });
  await page.goto(`${base}/authorize?${query}`);
  await page.waitForURL(`${base}/login`);
  return page;
}

test("an English login page shows each failure as its English sentence and its code", async () => {
  const page = await loginPage();
  assert.ok((await page.textContent("#card-login-button")).includes("Log in with CPS card"));
  const expected = {
    ERR_PIN_BLOCKED: "Your card is blocked after too many wrong PINs.",
    ERR_NO_CARD: "No card found. Insert your CPS card in the reader.",
    ERR_FROM_A_NEWER_EXTENSION: "The CPS card login failed.",
  };
  for (const [code, text] of Object.entries(expected)) {
    await page.evaluate((failWith) => sessionStorage.setItem("fail-with", failWith), code);
    await page.evaluate(() => document.querySelector("#card-status").classList.remove("is-error"));
    await page.click("#card-login-button");
    await page.waitForFunction(() => document.querySelector("#card-status").classList.contains("is-error"));
    const shown = await page.textContent("#card-status");
    assert.ok(shown.includes(text), `${code}: ${shown}`);
    assert.equal((await page.textContent("#card-status .error-code")).trim(), `Error code: ${code}`);
  }
  assert.equal(await page.evaluate(() => sessionStorage.getItem("asked-lang")), "en", "the PIN window is asked in English");
  assert.equal(new URL(page.url()).pathname, "/login", "no navigation happened");
  await page.context().close();
});

test("a good card sends the browser back to the site with the code, state and iss", async () => {
  const page = await loginPage();
  await page.click("#card-login-button");
  await page.waitForURL(`${SITE_CALLBACK}?**`);
  const back = new URL(page.url());
  assert.equal(back.searchParams.get("state"), "st-browser");
  assert.equal(back.searchParams.get("iss"), base);
  assert.ok((back.searchParams.get("code") ?? "").length > 20, page.url());
  await page.context().close();
});
