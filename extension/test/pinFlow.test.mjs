import assert from "node:assert/strict";
import { test } from "node:test";
import { CpxError } from "../src/shared/errors.js";
import { PinFlow } from "../src/background/pinFlow.js";
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
      return answers[command](args);
    },
  };
}

/** @param {PinFlow} flow */
const onlySession = (flow) => [...flow.sessions.values()][0];

test("no card: the host's answer fails the login and no window opens", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => { throw new CpxError("ERR_NO_CARD", "none"); } });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  await assert.rejects(flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE }), { code: "ERR_NO_CARD" });
  assert.equal(browser.created.length, 0);
  assert.equal(host.holds, 0, "the port is released");
});

test("a wrong PIN is reported and never retried; the next PIN typed succeeds and the window closes", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({
    certificates: () => ({ certificates: [CARD] }),
    authenticate: (args) => {
      if (args.pin !== "1234") throw new CpxError("ERR_PIN_INCORRECT", "wrong", { retriesLeft: 2 });
      return { format: "web-eid:1.0" };
    },
  });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE, lang: "fr" });
  await flush();
  await flush();
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
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => ({ certificates: [CARD] }), authenticate: () => ({}) });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE });
  await flush();
  const session = onlySession(flow);
  await assert.rejects(flow.submit(session.id, "c1", "12a4"), { code: "ERR_PIN_FORMAT" });
  await assert.rejects(flow.submit(session.id, "other", "1234"), { code: "ERR_CERTIFICATE_NOT_FOUND" });
  assert.equal(host.calls.filter((c) => c.command === "authenticate").length, 0);
  flow.cancel(session.id);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
});

test("closing the window cancels the login", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => ({ certificates: [CARD] }) });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE });
  await flush();
  await flush();
  browser.userCloses(browser.created[0].id);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  assert.equal(flow.sessions.size, 0);
});

test("closing the tab that asked closes its PIN window", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => ({ certificates: [CARD] }) });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 5, origin: "https://a.example", challengeNonce: NONCE });
  await flush();
  await flush();
  browser.userClosesTab(4);
  assert.equal(flow.sessions.size, 1, "another tab changes nothing");
  browser.userClosesTab(5);
  await assert.rejects(login, { code: "ERR_USER_CANCELLED" });
  assert.deepEqual(browser.removed, [browser.created[0].id]);
});

test("no PIN in time closes the window with ERR_PIN_TIMEOUT", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({ certificates: () => ({ certificates: [CARD] }) });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE, timeoutMs: 30 });
  await assert.rejects(login, { code: "ERR_PIN_TIMEOUT" });
  await flush();
  assert.deepEqual(browser.removed, [browser.created[0].id]);
});

test("a blocked PIN settles the login at once but keeps the window to explain", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({
    certificates: () => ({ certificates: [CARD] }),
    authenticate: () => { throw new CpxError("ERR_PIN_BLOCKED", "blocked"); },
  });
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  const login = flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: NONCE });
  await flush();
  await flush();
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

test("a nonce that is not a string is refused before the host is asked", async () => {
  const browser = fakeBrowserApi();
  const host = scriptedHost({});
  const flow = new PinFlow({ api: browser.api, host: /** @type {any} */ (host) });
  await assert.rejects(flow.authenticate({ tabId: 1, origin: "https://a.example", challengeNonce: 42 }), { code: "ERR_NONCE_INVALID" });
  assert.equal(host.calls.length, 0);
});
