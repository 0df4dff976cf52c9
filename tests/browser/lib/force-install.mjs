// What the force-install tests need beside the shared harness: the packages built by
// extension/package.mjs with a throw-away key, a local HTTPS server that hands them out as an
// administrator's server would (updates.xml, .crx, .xpi), the host registered the way
// ADMIN.md says, and the browsers started with a fresh profile and no extension flag at all.

import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { basename, join } from "node:path";
import { packageAll } from "../../../extension/package.mjs";
import { fixtures } from "./fixtures.mjs";
import { BROWSERS, IDS } from "./paths.mjs";

/** @param {string} file a new throw-away RSA key for the CRX (never the release key) */
export function throwawayKey(file) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return file;
}

/**
 * An HTTPS server on a free port of localhost serving the files of `root` by name, with the
 * content types an update server uses. It records every path asked for.
 * @param {string} root
 */
export async function startPackageServer(root) {
  const { site } = fixtures();
  /** @type {string[]} */
  const requests = [];
  const types = { ".xml": "text/xml", ".crx": "application/x-chrome-extension", ".xpi": "application/x-xpinstall" };
  const server = createServer({ key: site.key, cert: site.cert }, (request, response) => {
    const path = new URL(request.url ?? "/", "https://localhost").pathname;
    requests.push(path);
    const name = basename(path);
    const type = Object.entries(types).find(([extension]) => name.endsWith(extension))?.[1];
    let body;
    try {
      body = type && path === `/${name}` ? readFileSync(join(root, name)) : undefined;
    } catch {
      body = undefined;
    }
    if (!body) return response.writeHead(404).end();
    response.writeHead(200, { "content-type": /** @type {string} */ (type), "cache-control": "no-store" });
    response.end(body);
  });
  server.on("tlsClientError", (error) => requests.push(`TLS error: ${error.message}`));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const origin = `https://localhost:${typeof address === "object" && address ? address.port : 0}`;
  return {
    origin,
    updateUrl: `${origin}/updates.xml`,
    requests,
    /** Serves the packages of `dir` from now on (a new version rolled out). @param {string} dir */
    publish(dir) {
      rmSync(root, { recursive: true, force: true });
      cpSync(dir, root, { recursive: true });
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(undefined)); }),
  };
}

/**
 * The packages of one version, as the release process makes them (package.mjs).
 * @param {{ out: string, version: string, keyFile: string, updateUrl: string }} options
 */
export function buildPackages({ out, version, keyFile, updateUrl }) {
  mkdirSync(out, { recursive: true });
  return packageAll({ out, version, crxKey: keyFile, updateUrl });
}

/**
 * Registers the host for one user, as ADMIN.md tells an administrator whose extension has its
 * own id: `cpx-connect install --browser <b> [--extension-id <id>]`, run as that user (HOME).
 * @param {string} hostBinary
 * @param {string} home
 * @param {"chromium" | "firefox"} browser
 * @param {string} [extensionId]
 */
export function registerHostForUser(hostBinary, home, browser, extensionId) {
  const args = ["install", "--browser", browser, ...(extensionId ? ["--extension-id", extensionId] : [])];
  const env = { ...process.env, HOME: home };
  delete env.XDG_CONFIG_HOME;
  return execFileSync(hostBinary, args, { env, encoding: "utf8" });
}

/**
 * Chromium with the user data dir at its default place under a fresh HOME, and none of the
 * switches that load or disable extensions (Playwright's defaults include --disable-extensions,
 * and --disable-background-networking, which turns the extension updater off).
 * @param {string} home
 */
export async function launchPolicyChromium(home) {
  const { chromium } = await import("playwright-core");
  const env = { ...process.env, HOME: home, LANGUAGE: "fr" };
  delete env.XDG_CONFIG_HOME;
  const context = await chromium.launchPersistentContext(join(home, ".config", "chromium"), {
    executablePath: BROWSERS.chromium,
    headless: true,
    ignoreDefaultArgs: ["--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-default-apps"],
    // The update server's certificate is the tests' throw-away self-signed one, which the
    // browser process (the extension downloader, not a page) would refuse. An administrator's
    // update server has a certificate the workstations trust.
    args: ["--lang=fr-FR", "--ignore-certificate-errors"],
    env,
    ignoreHTTPSErrors: true,
    viewport: null,
    locale: "fr-FR",
  });
  // Chromium quits when its last tab closes: keep one open while the test opens and closes others.
  if (context.pages().length === 0) await context.newPage();
  return context;
}

/**
 * Firefox with a fresh profile and no add-on installed by the driver: only the policy can bring
 * it. The internal UUID is fixed (a profile preference) so the test can open the add-on's pages.
 * @param {string} home
 * @param {string} profile
 * @param {string} internalUuid
 */
export async function launchPolicyFirefox(home, profile, internalUuid) {
  const { default: puppeteer } = await import("puppeteer-core");
  return puppeteer.launch({
    browser: "firefox",
    executablePath: BROWSERS.firefox,
    headless: true,
    acceptInsecureCerts: true,
    userDataDir: profile,
    env: { ...process.env, HOME: home },
    args: ["--remote-allow-system-access"],
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({ [IDS.firefoxAddonId]: internalUuid }),
      "intl.accept_languages": "fr-FR, fr",
    },
  });
}
