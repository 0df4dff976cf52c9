import assert from "node:assert/strict";
import { test } from "node:test";
import { policyFrom } from "../src/background/origin.js";
import { cardLine, checksFrom } from "../src/ui/checks.js";

/** Returns the key and its substitutions, so the assertions do not depend on the wording. */
const t = (/** @type {string} */ key, /** @type {(string | number)[]} */ ...subs) => [key, ...subs].join("|");
const hostDown = { host: { ok: false, error: { code: "ERR_HOST_NOT_INSTALLED" } } };

test("the popup shows a malformed policy as a problem, whatever else is wrong, and names the key", () => {
  const checks = checksFrom({ ...hostDown, policy: policyFrom({ allowedOrigins: "https://portail.example.fr" }) }, t, "fr");
  assert.equal(checks[0].state, "problem");
  assert.equal(checks[0].detail, "popupPolicyMalformed");
  const miscased = checksFrom({ ...hostDown, policy: policyFrom({ AllowedOrigins: ["https://a.fr"] }) }, t, "fr")[0];
  assert.equal(miscased.state, "problem");
  assert.match(miscased.items?.[0] ?? "", /AllowedOrigins/);
});

test("the popup lists invalid entries with their reason, and valid ones as they are matched", () => {
  const checks = checksFrom({ ...hostDown, policy: policyFrom({ allowedOrigins: ["https://OK.example.fr:443", "[*.]x.fr", "https://*.x.fr/*"] }) }, t, "fr");
  const policy = checks[0];
  assert.equal(policy.state, "problem");
  assert.equal(policy.detail, "popupPolicyMalformed");
  assert.equal(policy.items?.[1], "https://ok.example.fr");
  assert.match(policy.items?.[2] ?? "", /^popupPolicyInvalidEntry\|"\[\*\.\]x\.fr"/);
  assert.match(policy.items?.[3] ?? "", /^popupPolicyInvalidEntry\|"https:\/\/\*\.x\.fr\/\*"/);
  const none = checksFrom({ ...hostDown, policy: policyFrom({ allowedOrigins: [] }) }, t, "fr")[0];
  assert.equal(none.detail, "popupPolicyNoneAllowed");
});

test("the popup always shows the effective policy, including every https site when there is none", () => {
  const open = checksFrom({ ...hostDown, policy: policyFrom(undefined) }, t, "fr")[0];
  assert.deepEqual(open, { state: "ok", title: "popupPolicy", detail: "popupPolicyNone" });
  const listed = checksFrom({ ...hostDown, policy: policyFrom({ allowedOrigins: ["https://a.fr"], restrictOrigins: true }) }, t, "fr")[0];
  assert.deepEqual(listed, { state: "ok", title: "popupPolicy", items: ["https://a.fr"] });
});

test("a card type or state the popup does not know is shown gracefully", () => {
  assert.equal(cardLine(null, t), "popupCardAbsent");
  assert.equal(cardLine({ atr: "3B", type: "CPS3" }, t), "popupCardPresent|CPS3");
  assert.equal(cardLine({ atr: "3B", type: "unknown" }, t), "popupCardUnknown");
  assert.equal(cardLine({ atr: "3B" }, t), "popupCardUnknown");
  assert.equal(cardLine({ atr: "3B", type: "CPS3", state: "ready" }, t), "popupCardPresent|CPS3");
  assert.equal(cardLine({ atr: "3B", type: "unknown", state: "unsupported" }, t), "popupCardUnknown");
  assert.equal(cardLine({ atr: "3B", type: "CPS3", state: "sleeping" }, t), "popupCardPresent|CPS3 (popupCardState|sleeping)");
});

test("a CPS read contactless is named as such, with the fix: the contact slot", () => {
  const report = {
    host: { ok: true, value: { version: "0.1.0" } },
    status: { ok: true, value: { service: "ok", readers: [{ name: "Lecteur", card: { atr: "3B8F", type: "unknown", state: "contactless" } }] } },
    certificates: { ok: false, error: { code: "ERR_CARD_UNSUPPORTED", cardState: "contactless" } },
  };
  const readers = checksFrom(report, t, "fr").find((check) => check.title === "popupReaders");
  assert.equal(readers?.state, "warn");
  assert.deepEqual(readers?.items, ["Lecteur : popupCardContactless"]);
  assert.equal(readers?.fix, "popupCardContactlessFix");
});
