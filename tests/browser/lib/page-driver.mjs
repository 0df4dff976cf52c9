// Drives the page library from inside any page that serves it at /static/cpx-connect.js: the
// test site here, or the demo relying party. The library is imported by its absolute address on
// the page's own origin, exactly as a site's script would.

const LIBRARY_PATH = "/static/cpx-connect.js";

/**
 * @typedef {{ ok: true, value: any } | { ok: false, code: string, message: string, retriesLeft?: number }} Outcome
 * @typedef {{ evaluate: <A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>,
 *   waitForFunction: (fn: Function, arg?: unknown, timeout?: number) => Promise<unknown> }} PageLike
 */

/** @param {PageLike} page */
export async function waitForPage(page) {
  await page.waitForFunction(() => document.readyState === "complete");
}

/**
 * status() in the page.
 * @param {PageLike} page
 * @param {{ timeout?: number }} [options]
 * @returns {Promise<Outcome>}
 */
export function pageStatus(page, options = {}) {
  return page.evaluate(
    async ([path, opts]) => {
      const library = await import(new URL(/** @type {string} */ (path), location.href).href);
      return library.status(opts).then(
        (/** @type {any} */ value) => ({ ok: true, value }),
        (/** @type {any} */ error) => ({ ok: false, code: error.code, message: error.message }),
      );
    },
    /** @type {[string, object]} */ ([LIBRARY_PATH, options]),
  );
}

/**
 * authenticate() in the page, started without waiting, so the test can drive the PIN window;
 * `loginOutcome` then waits for the result.
 * @param {PageLike} page
 * @param {string} nonce
 * @param {{ lang?: string, timeout?: number }} [options]
 */
export async function startLogin(page, nonce, options = {}) {
  await page.evaluate(
    async ([path, n, opts]) => {
      const library = await import(new URL(/** @type {string} */ (path), location.href).href);
      /** @type {any} */ (window).__cpxLogin = library.authenticate(n, opts).then(
        (/** @type {any} */ value) => ({ ok: true, value }),
        (/** @type {any} */ error) => ({ ok: false, code: error.code, message: error.message, retriesLeft: error.retriesLeft }),
      );
    },
    /** @type {[string, string, object]} */ ([LIBRARY_PATH, nonce, options]),
  );
}

/**
 * @param {PageLike} page
 * @returns {Promise<Outcome>}
 */
export function loginOutcome(page) {
  return page.evaluate(() => /** @type {any} */ (window).__cpxLogin);
}

/**
 * A whole login that is expected to end without a PIN window.
 * @param {PageLike} page
 * @param {string} nonce
 * @param {{ lang?: string, timeout?: number }} [options]
 */
export async function login(page, nonce, options = {}) {
  await startLogin(page, nonce, options);
  return loginOutcome(page);
}

/**
 * Waits until the PIN window takes keys: it drops them for a second after it shows or takes the
 * focus (pin.js), so a test that types too early would see its digits dropped.
 * @param {PageLike} pin
 */
export async function waitForPinKeys(pin) {
  await pin.waitForFunction(() => !document.getElementById("ask")?.hidden && document.getElementById("pin-form")?.dataset.keys === "accepted");
}
