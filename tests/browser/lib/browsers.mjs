// One interface over two drivers: Playwright for Chromium, Puppeteer over WebDriver BiDi for
// Firefox ESR. Each launch gets a fresh profile and a fresh HOME; the native host manifest goes
// where that browser reads it, pointing at whatever host path the test gives (fake or real).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { ARTIFACTS_DIR, BROWSERS, IDS, builtExtension } from "./paths.mjs";

const STEP_TIMEOUT_MS = 15_000;

/**
 * @typedef {object} LaunchOptions
 * @property {string | null} hostPath the native host to register, or null for "not installed"
 * @property {string} [workDir] where the profile and HOME go (a fresh temp dir by default)
 */

/**
 * @param {"chromium" | "firefox"} kind
 * @param {LaunchOptions} options
 */
export async function launch(kind, options) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), `cpx-${kind}-`));
  const home = join(workDir, "home");
  mkdirSync(home, { recursive: true });
  return kind === "chromium" ? launchChromium(workDir, home, options) : launchFirefox(workDir, home, options);
}

/**
 * @param {string} hostPath
 * @param {Record<string, unknown>} allowed
 */
function hostManifest(hostPath, allowed) {
  return JSON.stringify(
    { name: IDS.nativeHostName, description: "CPx Connect (test)", path: hostPath, type: "stdio", ...allowed },
    null,
    2,
  );
}

/**
 * @param {string} workDir
 * @param {string} home
 * @param {LaunchOptions} options
 */
async function launchChromium(workDir, home, options) {
  const { chromium } = await import("playwright-core");
  const userDataDir = join(workDir, "profile");
  if (options.hostPath) {
    // With a user data dir, Chromium reads host manifests here and not from ~/.config.
    const manifestDir = join(userDataDir, "NativeMessagingHosts");
    mkdirSync(manifestDir, { recursive: true });
    writeFileSync(
      join(manifestDir, `${IDS.nativeHostName}.json`),
      hostManifest(options.hostPath, { allowed_origins: [`chrome-extension://${IDS.chromeExtensionId}/`] }),
    );
  }
  const extension = builtExtension("chromium");
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: BROWSERS.chromium,
    headless: true,
    ignoreDefaultArgs: ["--disable-extensions"],
    args: [`--disable-extensions-except=${extension}`, `--load-extension=${extension}`, "--lang=fr-FR"],
    env: { ...process.env, HOME: home, LANGUAGE: "fr" },
    ignoreHTTPSErrors: true,
    viewport: null,
    locale: "fr-FR",
  });
  const extensionOrigin = `chrome-extension://${IDS.chromeExtensionId}`;

  /** @param {import("playwright-core").Page} page */
  const wrap = (page) => ({
    /** @type {<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>} */
    evaluate: (fn, arg) => page.evaluate(/** @type {any} */ (fn), arg),
    /** Runs a script's source in the page (e.g. axe-core), outside the page's CSP. @param {string} source */
    evaluateScript: (source) => page.evaluate(source),
    /** @param {Function} fn @param {unknown} [arg] @param {number} [timeout] */
    waitForFunction: (fn, arg, timeout = STEP_TIMEOUT_MS) =>
      page.waitForFunction(/** @type {any} */ (fn), arg, { timeout, polling: 100 }),
    /** @param {string} selector @param {string} text */
    type: (selector, text) => page.locator(selector).pressSequentially(text),
    /** @param {string} key */
    press: (key) => unlessClosedBy(page.keyboard.press(key)),
    /** @param {string} selector */
    click: (selector) => unlessClosedBy(page.locator(selector).click()),
    /** @param {string} path */
    screenshot: (path) => page.screenshot({ path }),
    isClosed: () => page.isClosed(),
    close: () => page.close(),
  });

  return {
    kind: /** @type {const} */ ("chromium"),
    workDir,
    /** @param {string} url */
    async openPage(url) {
      const page = await context.newPage();
      await page.goto(url);
      return wrap(page);
    },
    /** Opens an extension page (e.g. popup.html) in a tab. @param {string} path */
    async openExtensionPage(path) {
      const page = await context.newPage();
      await page.setViewportSize({ width: 400, height: 640 });
      await page.goto(`${extensionOrigin}/${path}`);
      return wrap(page);
    },
    /**
     * The extension window whose address starts with `path` (e.g. "pin.html"), once it opens.
     * @param {string} path
     * @param {number} [timeout]
     */
    async waitForExtensionWindow(path, timeout = STEP_TIMEOUT_MS) {
      const prefix = `${extensionOrigin}/${path}`;
      const open = context.pages().find((page) => page.url().startsWith(prefix));
      const page = open ?? (await context.waitForEvent("page", { predicate: (p) => p.url().startsWith(prefix), timeout }));
      await page.waitForLoadState("domcontentloaded");
      return wrap(page);
    },
    /** How many extension windows starting with `path` are open now. @param {string} path */
    async countExtensionWindows(path) {
      return context.pages().filter((page) => !page.isClosed() && page.url().startsWith(`${extensionOrigin}/${path}`)).length;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * @param {string} workDir
 * @param {string} home
 * @param {LaunchOptions} options
 */
async function launchFirefox(workDir, home, options) {
  const { default: puppeteer } = await import("puppeteer-core");
  if (options.hostPath) {
    const manifestDir = join(home, ".mozilla", "native-messaging-hosts");
    mkdirSync(manifestDir, { recursive: true });
    writeFileSync(
      join(manifestDir, `${IDS.nativeHostName}.json`),
      hostManifest(options.hostPath, { allowed_extensions: [IDS.firefoxAddonId] }),
    );
  }
  // A fixed internal UUID so the test knows the moz-extension:// address of popup.html.
  const internalUuid = randomUUID();
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: BROWSERS.firefox,
    headless: true,
    acceptInsecureCerts: true,
    userDataDir: join(workDir, "profile"),
    env: { ...process.env, HOME: home },
    // Firefox 153+ lets WebDriver open moz-extension:// pages (the toolbar popup) only with this.
    args: ["--remote-allow-system-access"],
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({ [IDS.firefoxAddonId]: internalUuid }),
      "intl.accept_languages": "fr-FR, fr",
    },
  });
  const installed = await browser.installExtension(builtExtension("firefox"));
  if (installed !== IDS.firefoxAddonId) throw new Error(`Firefox installed the add-on as ${installed}`);
  const extensionOrigin = `moz-extension://${internalUuid}`;

  /** @param {import("puppeteer-core").Page} page */
  const wrap = (page) => ({
    /** @type {<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>} */
    evaluate: (fn, arg) => page.evaluate(/** @type {any} */ (fn), arg),
    /** Runs a script's source in the page (e.g. axe-core), outside the page's CSP. @param {string} source */
    evaluateScript: (source) => page.evaluate(source),
    /** @param {Function} fn @param {unknown} [arg] @param {number} [timeout] */
    waitForFunction: (fn, arg, timeout = STEP_TIMEOUT_MS) =>
      page.waitForFunction(/** @type {any} */ (fn), { timeout, polling: 100 }, arg),
    /** @param {string} selector @param {string} text */
    type: (selector, text) => page.type(selector, text),
    /** @param {string} key */
    press: (key) => unlessClosedBy(page.keyboard.press(/** @type {any} */ (key))),
    /** @param {string} selector */
    click: (selector) => unlessClosedBy(page.click(selector)),
    /** @param {string} path */
    screenshot: (path) => page.screenshot({ path }),
    isClosed: () => page.isClosed(),
    close: () => page.close(),
  });

  /** @param {import("puppeteer-core").Page} page */
  const hrefOf = (page) => page.evaluate(() => window.location.href).catch(() => "");

  return {
    kind: /** @type {const} */ ("firefox"),
    workDir,
    /** @param {string} url */
    async openPage(url) {
      const page = await browser.newPage();
      await page.goto(url);
      return wrap(page);
    },
    /** @param {string} path */
    async openExtensionPage(path) {
      const page = await browser.newPage();
      await page.setViewport({ width: 400, height: 640 });
      // BiDi never reports the load of a moz-extension:// page: start it, then find the page.
      page.goto(`${extensionOrigin}/${path}`, { timeout: STEP_TIMEOUT_MS }).catch(() => {});
      return this.waitForExtensionWindow(path);
    },
    /**
     * Puppeteer reports about:blank as the address of windows.create popups: read location.href.
     * @param {string} path
     * @param {number} [timeout]
     */
    async waitForExtensionWindow(path, timeout = STEP_TIMEOUT_MS) {
      const prefix = `${extensionOrigin}/${path}`;
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline) {
        for (const page of await browser.pages()) {
          if ((await hrefOf(page)).startsWith(prefix)) {
            await page.waitForFunction(() => document.readyState !== "loading", { timeout });
            return wrap(page);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no ${path} window within ${timeout} ms`);
    },
    /** @param {string} path */
    async countExtensionWindows(path) {
      let count = 0;
      for (const page of await browser.pages()) {
        if (!page.isClosed() && (await hrefOf(page)).startsWith(`${extensionOrigin}/${path}`)) count++;
      }
      return count;
    },
    async close() {
      await browser.close().catch(() => {});
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * A click or key press that makes the PIN window close itself (Annuler, a right PIN) may lose the
 * race with the window's end: that is the expected outcome, not a failure.
 * @param {Promise<unknown>} action
 */
async function unlessClosedBy(action) {
  try {
    await action;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/closed|destroyed|detached|no such (frame|window)|discarded/i.test(message)) throw error;
  }
}

/**
 * Polls `check` until it returns true.
 * @param {() => boolean | Promise<boolean>} check
 * @param {string} what
 * @param {number} [timeout]
 */
export async function eventually(check, what, timeout = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
