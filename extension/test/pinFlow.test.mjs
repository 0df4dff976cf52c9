import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { CpxError } from "../src/shared/errors.js";
import { CANCEL_COOLDOWN_MS, MIN_PIN_WAIT_MS, PIN_TIMEOUT_MS, PinFlow } from "../src/background/pinFlow.js";
import { fakeBrowserApi, flush } from "./fakes.mjs";

const NONCE = "A".repeat(44);
const CARD = { certificateId: "c1", reader: "R", cardType: "CPS3", pin: { retriesLeft: 3, maxRetries: 3 } };

/**
 * A host double: answers from a script and records what it was asked.
 * @param {Record<string, (args: any) => any>} answers
 */
function scriptedHost(answers) {
  /** @type {{ command: string, args: any }[]} */
  const calls = [];
  return {
    calls,
    holds: 0,
    hold() { this.holds++; },
    release() { this.holds--; },
    /** @param {string} command @param {any} args */
    async request(command, args) {
      calls.push({ command, args });
      // A fresh copy, as from JSON: the flow may update what it was given.
      return structuredClone(await answers[command](args));
    },
  };
}

/** @param {PinFlow} flow */
const onlySession = (flow) => [...flow.sessions.values()][0];

/**
 * A PIN flow on a fake browser and a scripted host that lists CARD, unless `answers` says
 * otherwise: what every test starts from.
 * @param {Record<string, (args: any) => any>} [answers]
 */
function startFlow(answers = {}) {
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => ({ certificates: [CARD] }), ...answers });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  return { browser, host, flow };
}

/**
 * A page's login request: tab 1 of https://a.example with NONCE, and `more` fields.
 * @param {Record<string, any>} [more]
 */
const loginRequest = (more = {}) => ({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE, ...more });

/** Lets the flow list the cards, then open its PIN window. */
async function untilTheWindowOpens() {
  await flush();
  await flush();
}

test("no card: the host's answer fails the login and no window opens", async () => {
  const { browser, host, flow } = startFlow({ certificates: () => { throw new CpxError("ERR_NO_CARD", "none"); } });
  await assert.rejects(flow.authenticate(loginRequest()), { code: "ERR_NO_CARD" });
  assert.equal(browser.created.length, 0);
  assert.equal(host.holds, 0, "the port is released");
});

test("a wrong PIN is reported and never retried; the next PIN typed succeeds and the window closes", async () => {
  const { browser, host, flow } = startFlow({
    authenticate: (args) => {
      if (args.pin !== "1234") throw new CpxError("ERR_PIN_INCORRECT", "wrong", { retriesLeft: 2 });
      return { format: "web-eid:1.0" };
    },
  });
  const login = flow.authenticate(loginRequest({ lang: "fr" }));
  await untilTheWindowOpens();
  const session = onlySession(flow);
  assert.match(browser.created[0].url, /^chrome-extension:\/\/test\/pin\.html\?session=/);
  assert.equal(flow.describe(session.id).origin, "https://a.example");
  assert.equal(/** @type {any} */ (flow.describe(session.id).certificates[0]).certificate, undefined, "no DER to the window");

  const wrong = await flow.submit(session.id, "c1", "0000");
  assert.equal(wrong.done, false);
  assert.equal(wrong.error?.code, "ERR_PIN_INCORRECT");
  assert.equal(wrong.error?.retriesLeft, 2);
  assert.equal(flow.describe(session.id).certificates[0].pin.retriesLeft, 2);
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 1);

  assert.deepEqual(await flow.submit(session.id, "c1", "1234"), { done: true });
  assert.deepEqual(await login, { format: "web-eid:1.0" });
  const sent = host.calls.filter((c) => c.command === "authenticate").map((c) => c.args);
  assert.deepEqual(sent[1], { origin: "https://a.example", challengeNonce: NONCE, certificateId: "c1", pin: "1234" });
  assert.deepEqual(browser.removed, [browser.created[0].id]);
  assert.equal(host.holds, 0);
});

test("a malformed PIN or unknown certificate never reaches the host", async () => {
  const { host, flow } = startFlow({ authenticate: () => ({}) });
  const login = flow.authenticate(loginRequest());
  await flush();
  const session = onlySession(flow);
  await assert.rejects(flow.submit(session.id, "c1", "12a4"), { code: "ERR_PIN_FORMAT" });
  await assert.rejects(flow.submit(session.id, "other", "1234"), { code: "ERR_CERTIFICATE_NOT_FOUND" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 0);
  flow.cancel(session.id);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
});

test("closing the window cancels the login", async () => {
  const { browser, flow } = startFlow();
  const login = flow.authenticate(loginRequest());
  await untilTheWindowOpens();
  browser.userCloses(browser.created[0].id);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  assert.equal(flow.sessions.size, 0);
});

test("closing the tab that asked closes its PIN window", async () => {
  const { browser, flow } = startFlow();
  const login = flow.authenticate(loginRequest({ tabId: 5 }));
  await untilTheWindowOpens();
  browser.userClosesTab(4);
  assert.equal(flow.sessions.size, 1, "another tab changes nothing");
  browser.userClosesTab(5);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  assert.deepEqual(browser.removed, [browser.created[0].id]);
});

test("no PIN in time closes the window with ERR_PIN_TIMEOUT", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { browser, flow } = startFlow();
  const login = flow.authenticate(loginRequest({ timeoutMs: 30_000 }));
  const outcome = assert.rejects(login, { code: "ERR_PIN_TIMEOUT" });
  await untilTheWindowOpens();
  t.mock.timers.tick(30_000);
  await outcome;
  await flush();
  assert.deepEqual(browser.removed, [browser.created[0].id]);
});

test("a page timeout below the minimum PIN wait is refused before the host is asked: the window cannot flash", async () => {
  const { browser, host, flow } = startFlow();
  await assert.rejects(flow.authenticate(loginRequest({ timeoutMs: 1 })), {
    code: "ERR_INVALID_REQUEST",
    details: { field: "timeout" },
  });
  assert.equal(host.calls.length, 0);
  assert.equal(browser.created.length, 0);
  assert.ok(MIN_PIN_WAIT_MS >= 5_000);
});

test("a card that takes the page's whole budget to answer opens no window", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { browser, flow } = startFlow({
    certificates: () => new Promise((resolve) => setTimeout(() => resolve({ certificates: [CARD] }), 16_000)),
  });
  const login = flow.authenticate(loginRequest({ timeoutMs: 20_000 }));
  const outcome = assert.rejects(login, { code: "ERR_TIMEOUT" });
  await flush();
  t.mock.timers.tick(16_000);
  await outcome;
  assert.equal(browser.created.length, 0, "4 s left: no window");
});

test("a wrong PIN does not extend the deadline fixed when the request arrived", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { browser, flow } = startFlow({
    authenticate: () => { throw new CpxError("ERR_PIN_INCORRECT", "wrong", { retriesLeft: 2 }); },
  });
  const start = Date.now();
  const login = flow.authenticate(loginRequest());
  let settled = false;
  const outcome = assert.rejects(login, { code: "ERR_PIN_TIMEOUT" }).then(() => { settled = true; });
  await untilTheWindowOpens();
  const session = onlySession(flow);
  assert.equal(flow.describe(session.id).pinDeadline, start + PIN_TIMEOUT_MS);
  t.mock.timers.tick(PIN_TIMEOUT_MS - 1_000);
  const wrong = await flow.submit(session.id, "c1", "0000");
  assert.equal(wrong.error?.pinDeadline, start + PIN_TIMEOUT_MS, "the same deadline, not two fresh minutes");
  t.mock.timers.tick(1_000);
  await outcome;
  assert.equal(settled, true);
  assert.deepEqual(browser.removed, [browser.created[0].id]);
});

test("the deadline counts from when the content script got the request, not from a slow background start", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { flow } = startFlow();
  const requestedAt = Date.now() - 3_000;
  const login = flow.authenticate(loginRequest({ timeoutMs: 20_000, requestedAt }));
  const outcome = assert.rejects(login, { code: "ERR_PIN_TIMEOUT" });
  await untilTheWindowOpens();
  assert.equal(flow.describe(onlySession(flow).id).pinDeadline, requestedAt + 20_000);
  t.mock.timers.tick(17_000);
  await outcome;
  // A time from the future is not believed.
  const later = flow.authenticate(loginRequest({ tabId: 2, timeoutMs: 20_000, requestedAt: Date.now() + 60_000 }));
  await untilTheWindowOpens();
  assert.equal(flow.describe(onlySession(flow).id).pinDeadline, Date.now() + 20_000);
  flow.cancel(onlySession(flow).id);
  await assert.rejects(later, { code: "ERR_USER_CANCELLED" });
});

test("after the page's timeout no PIN is sent to the host", async (t) => {
  t.mock.timers.enable({ apis: ["Date"] });
  const { host, flow } = startFlow({ authenticate: () => ({ format: "web-eid:1.0" }) });
  const login = flow.authenticate(loginRequest({ timeoutMs: 20_000 }));
  const outcome = assert.rejects(login, { code: "ERR_PIN_TIMEOUT" });
  await untilTheWindowOpens();
  const session = onlySession(flow);
  // The window's own timer has not fired yet (a busy background), but the deadline has passed.
  t.mock.timers.tick(20_000);
  await assert.rejects(flow.submit(session.id, "c1", "1234"), { code: "ERR_PIN_TIMEOUT" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 0);
  await outcome;
});

test("the page going away (reload, navigation) ends the login and closes its window", async () => {
  const { browser, host, flow } = startFlow({ authenticate: () => ({}) });
  const gone = new AbortController();
  const login = flow.authenticate(loginRequest({ signal: gone.signal }));
  await untilTheWindowOpens();
  const session = onlySession(flow);
  gone.abort();
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  assert.deepEqual(browser.removed, [browser.created[0].id]);
  await assert.rejects(flow.submit(session.id, "c1", "1234"), { code: "ERR_USER_CANCELLED" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 0);
});

test("a page gone before the cards are listed gets no window", async () => {
  const gone = new AbortController();
  const { browser, flow } = startFlow({ certificates: () => { gone.abort(); return { certificates: [CARD] }; } });
  await assert.rejects(flow.authenticate(loginRequest({ signal: gone.signal })), {
    code: "ERR_USER_CANCELLED",
  });
  assert.equal(browser.created.length, 0);
});

test("after the user cancels, the same tab is refused for a few seconds; other tabs are not", async (t) => {
  t.mock.timers.enable({ apis: ["Date"] });
  const { browser, flow } = startFlow();
  const login = flow.authenticate(loginRequest());
  await untilTheWindowOpens();
  flow.cancel(onlySession(flow).id);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  await assert.rejects(flow.authenticate(loginRequest()), { code: "ERR_USER_CANCELLED" });
  assert.equal(browser.created.length, 1, "no second window");
  const other = flow.authenticate(loginRequest({ tabId: 2 }));
  await untilTheWindowOpens();
  assert.equal(browser.created.length, 2);
  flow.cancel(onlySession(flow).id);
  await assert.rejects(other, { code: "ERR_USER_CANCELLED" });
  t.mock.timers.tick(CANCEL_COOLDOWN_MS);
  const again = flow.authenticate(loginRequest());
  await untilTheWindowOpens();
  assert.equal(browser.created.length, 3, "the tab may ask again");
  flow.cancel(onlySession(flow).id);
  await assert.rejects(again, { code: "ERR_USER_CANCELLED" });
});

test("two cards: a blocked PIN on one leaves the other usable, and a blocked card cannot be chosen", async () => {
  const second = { ...CARD, certificateId: "c2", reader: "R2" };
  const { host, flow } = startFlow({
    certificates: () => ({ certificates: [CARD, second] }),
    authenticate: (args) => {
      if (args.certificateId === "c1") throw new CpxError("ERR_PIN_BLOCKED", "blocked");
      return { format: "web-eid:1.0" };
    },
  });
  const login = flow.authenticate(loginRequest());
  await untilTheWindowOpens();
  const session = onlySession(flow);
  const blocked = await flow.submit(session.id, "c1", "0000");
  assert.equal(blocked.done, false);
  assert.equal(blocked.error?.code, "ERR_PIN_BLOCKED");
  assert.equal(flow.describe(session.id).certificates[0].pin.retriesLeft, 0);
  await assert.rejects(flow.submit(session.id, "c1", "1234"), { code: "ERR_PIN_BLOCKED" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 1, "the blocked card is not asked again");
  assert.deepEqual(await flow.submit(session.id, "c2", "1234"), { done: true });
  assert.deepEqual(await login, { format: "web-eid:1.0" });
});

test("a blocked PIN settles the login at once but keeps the window to explain", async () => {
  const { browser, host, flow } = startFlow({
    authenticate: () => { throw new CpxError("ERR_PIN_BLOCKED", "blocked"); },
  });
  const login = flow.authenticate(loginRequest());
  await untilTheWindowOpens();
  const session = onlySession(flow);
  const outcome = await flow.submit(session.id, "c1", "0000");
  assert.equal(outcome.error?.code, "ERR_PIN_BLOCKED");
  await assert.rejects(login, { code: "ERR_PIN_BLOCKED" });
  assert.deepEqual(browser.removed, [], "the window stays");
  assert.equal(flow.describe(session.id).certificates[0].pin.retriesLeft, 0);
  await assert.rejects(flow.submit(session.id, "c1", "1234"), { code: "ERR_USER_CANCELLED" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 1, "no PIN after the answer");
  browser.userCloses(browser.created[0].id);
  assert.equal(flow.sessions.size, 0);
});

test("a nonce or an origin the host would refuse is refused before the host is asked and before any PIN", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({});
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  for (const challengeNonce of [42, "", "short", crypto.randomUUID().repeat(2), `${"A".repeat(43)}!`, "A".repeat(132)]) {
    await assert.rejects(flow.authenticate(loginRequest({ challengeNonce })), { code: "ERR_NONCE_INVALID" }, String(challengeNonce));
  }
  for (const origin of ["https://A.example", "https://a.example/", "https://a_b.example"]) {
    await assert.rejects(flow.authenticate(loginRequest({ origin })), { code: "ERR_ORIGIN_INVALID" }, origin);
  }
  assert.equal(host.calls.length, 0);
  assert.equal(browser.created.length, 0);
});

test("the asking tab is checked again right before the window opens: left or unfocused, no window", async () => {
  for (const front of [{ active: false, focused: true }, { active: true, focused: false }]) {
    const browser = fakeBrowserApi();
    // The user turns to another tab (or window) while the card is being read.
    const host = scriptedHost({ certificates: () => { Object.assign(browser.front, front); return { certificates: [CARD] }; } });
    const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
    await assert.rejects(flow.authenticate(loginRequest()), {
      code: "ERR_USER_ACTIVATION_REQUIRED",
    });
    assert.equal(browser.created.length, 0, JSON.stringify(front));
    assert.equal(host.holds, 0);
  }
});
