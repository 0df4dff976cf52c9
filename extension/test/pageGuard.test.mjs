import assert from "node:assert/strict";
import { test } from "node:test";
import { STATUS_BURST, STATUS_WINDOW_MS, StatusRateLimit, checkUserIntent } from "../src/background/pageGuard.js";

/** @param {boolean} focused */
const windowsApi = (focused) => /** @type {any} */ ({ windows: { get: async () => ({ id: 3, focused }) } });
const activeTab = /** @type {any} */ ({ tab: { id: 7, windowId: 3, active: true } });
const gesture = { userActivation: true, visible: true };

test("a login needs a gesture in a visible page of the active tab of the focused window", async () => {
  await checkUserIntent(windowsApi(true), gesture, activeTab);
  const refused = { code: "ERR_USER_ACTIVATION_REQUIRED" };
  await assert.rejects(checkUserIntent(windowsApi(true), { visible: true }, activeTab), refused, "no click: a page polling status()");
  await assert.rejects(checkUserIntent(windowsApi(true), { userActivation: "true", visible: true }, activeTab), refused);
  await assert.rejects(checkUserIntent(windowsApi(true), { userActivation: true, visible: false }, activeTab), refused, "a hidden document");
  await assert.rejects(
    checkUserIntent(windowsApi(true), gesture, /** @type {any} */ ({ tab: { id: 7, windowId: 3, active: false } })),
    refused,
    "a background tab",
  );
  await assert.rejects(checkUserIntent(windowsApi(false), gesture, activeTab), refused, "a window without the focus");
  const broken = /** @type {any} */ ({ windows: { get: async () => { throw new Error("No window with id: 3"); } } });
  await assert.rejects(checkUserIntent(broken, gesture, activeTab), refused);
});

test("status is rate-limited per tab", () => {
  let now = 0;
  const limit = new StatusRateLimit({ now: () => now });
  for (let call = 0; call < STATUS_BURST; call++) limit.check(1);
  assert.throws(() => limit.check(1), { code: "ERR_BUSY" });
  limit.check(2);
  now += STATUS_WINDOW_MS;
  limit.check(1);
});
