// One handle on the WebExtension API: Firefox has `browser`, Chromium has `chrome`; in MV3 both
// return promises, which is all this code uses.

/** @type {typeof chrome} */
export const api = /** @type {any} */ (globalThis).browser ?? globalThis.chrome;
