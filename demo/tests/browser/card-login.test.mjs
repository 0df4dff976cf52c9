// The page script both services serve (web/static/card-login.js) in real Chromium, against the real cpx-demo
// binary, with a stand-in page library that signs like a card would (WebCrypto, with the
// fixture holder key): messages shown without reload for failures, the whole linking flow,
// login by card alone, and the message when the page library is missing.
//
// Needs: the cpx-demo binary (CPX_DEMO_BIN, else $CARGO_TARGET_DIR/debug/cpx-demo, else
// target/debug/cpx-demo), Chromium (CHROMIUM, else /usr/bin/chromium) and playwright-core,
// resolved from tests/browser/node_modules (`npm ci` there).
// Run: node --test demo/tests/browser/

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { freePort } from "../../../tests/lib/free-port.mjs";
import { launchChromium } from "../../../tests/lib/page-script-chromium.mjs";
import { startServer } from "../../../tests/lib/server.mjs";
import { standInLibrary } from "../../../tests/lib/stand-in-page-library.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");
const FIXTURES = resolve(HERE, "../fixtures");
const DEMO_BIN =
  process.env.CPX_DEMO_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(REPO, "target"), "debug", "cpx-demo");
const STEP_TIMEOUT_MS = 15_000;

/** A page library whose authenticate() signs with the fixture key, or fails with the code in sessionStorage. */
function stubLibrary() {
  return standInLibrary({ keyDer: join(FIXTURES, "marie.key.der"), certificateDer: join(FIXTURES, "marie.der"), retriesLeft: 2 });
}

let workDir;
let demo;
let browser;
let base;
let libraryPath;

before(async () => {
  assert.ok(existsSync(DEMO_BIN), `cpx-demo binary not found at ${DEMO_BIN}: cargo build -p cpx-demo`);
  workDir = mkdtempSync(join(tmpdir(), "cpx-demo-browser-"));
  libraryPath = join(workDir, "cpx-connect.js");
  writeFileSync(libraryPath, stubLibrary());
  const port = await freePort();
  base = `https://localhost:${port}`;
  demo = await startServer("cpx-demo", DEMO_BIN, [
    "serve", "--addr", `127.0.0.1:${port}`, "--origin", base, "--db", join(workDir, "demo.sqlite"),
    "--trust-anchor", join(FIXTURES, "test-ca.der"), "--crl", join(FIXTURES, "test-ca.crl.der"),
    "--allow-test-anchors", "--page-library", libraryPath, "--seed-demo-user",
  ]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

async function newPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  return page;
}

/** Clicks the card button and returns the error shown in the status line. */
async function clickAndReadError(page) {
  await page.evaluate(() => document.querySelector("#card-status").classList.remove("is-error"));
  await page.click("#card-login-button");
  await page.waitForFunction(() => document.querySelector("#card-status").classList.contains("is-error"));
  return page.textContent("#card-status");
}

test("failures from the page library are shown in French without reload", async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  const expected = {
    ERR_NO_CARD: "Aucune carte détectée. Insérez votre carte CPS dans le lecteur.",
    ERR_PIN_BLOCKED: "Votre carte est bloquée",
    ERR_HOST_NOT_INSTALLED: "Le module CPx Connect n'est pas installé sur ce poste",
    ERR_PIN_INCORRECT: "Il vous reste 2 essais.",
    ERR_FROM_A_NEWER_EXTENSION: "La connexion par carte CPS a échoué.",
  };
  for (const [code, text] of Object.entries(expected)) {
    await page.evaluate((failWith) => sessionStorage.setItem("fail-with", failWith), code);
    const shown = await clickAndReadError(page);
    assert.ok(shown.includes(text), `${code}: ${shown}`);
    // The code too, small, for the help desk.
    assert.equal((await page.textContent("#card-status .error-code")).trim(), `Code d'erreur : ${code}`);
  }
  assert.equal(new URL(page.url()).pathname, "/", "no navigation happened");
  await page.context().close();
});

test("first card login links the account, the next one needs only the card", async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  await page.click("#card-login-button");
  await page.waitForURL(`${base}/lier`);
  assert.ok((await page.textContent("h1")).includes("Connectez votre compte professionnel à votre carte CPS"));
  assert.ok((await page.textContent("main")).includes("MARIE DUPONT"));

  await page.fill("#username", "marie.dupont");
  await page.fill("#password", "wrong password");
  await page.click("text=Associer ma carte et me connecter");
  assert.ok((await page.textContent(".notice-error")).includes("Identifiant ou mot de passe incorrect."));
  await page.fill("#password", "demo1234");
  await page.click("text=Associer ma carte et me connecter");
  await page.waitForURL(`${base}/compte`);
  assert.ok((await page.textContent("main")).includes("810001234567"));

  await page.click("text=Se déconnecter");
  await page.waitForURL(`${base}/`);
  await page.click("#card-login-button");
  await page.waitForURL(`${base}/compte`);
  assert.ok((await page.textContent(".notice-info")).includes("carte CPS de MARIE DUPONT"));

  // Unlinking asks for the account's password again.
  await page.fill("#unlink-password", "demo1234");
  await page.click("text=Dissocier cette carte de mon compte");
  await page.waitForURL(`${base}/compte`);
  assert.ok((await page.textContent(".notice-info")).includes("dissociée"));
  await page.context().close();
});

test("a missing page library shows the extension-not-available message", async () => {
  const library = readFileSync(libraryPath);
  rmSync(libraryPath);
  try {
    const page = await newPage();
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector("#card-status").classList.contains("is-error"));
    assert.ok((await page.textContent("#card-status")).includes("L'extension CPx Connect n'est pas disponible"));
    const shown = await clickAndReadError(page);
    assert.ok(shown.includes("L'extension CPx Connect n'est pas disponible"), shown);
    await page.context().close();
  } finally {
    writeFileSync(libraryPath, library);
  }
});
