import assert from "node:assert/strict";
import { test } from "node:test";
import { policyFrom } from "../src/background/origin.js";
import { cardLine, checksFrom } from "../src/ui/checks.js";

/** Returns the key and its substitutions, so the assertions do not depend on the wording. */
const t = (/** @type {string} */ key, /** @type {(string | number)[]} */ ...subs) => [key, ...subs].join("|");
const hostDown = { host: { ok: false, error: { code: "ERR_HOST_NOT_INSTALLED" } } };

test("the popup shows a malformed allowedOrigins policy as a problem, whatever else is wrong", () => {
  const checks = checksFrom({ ...hostDown, policy: policyFrom("https://portail.example.fr") }, t, "fr");
  assert.equal(checks[0].state, "problem");
  assert.equal(checks[0].detail, "popupPolicyMalformed");
});

test("the popup lists unknown origin patterns as ignored entries", () => {
  const checks = checksFrom({ ...hostDown, policy: policyFrom(["https://ok.example.fr", "[*.]x.fr", "https://*.x.fr/*"]) }, t, "fr");
  const policy = checks[0];
  assert.equal(policy.state, "problem");
  assert.equal(policy.items?.[0], "https://ok.example.fr");
  assert.match(policy.items?.[1] ?? "", /^popupPolicyInvalidEntry\|"\[\*\.\]x\.fr"/);
  assert.match(policy.items?.[2] ?? "", /^popupPolicyInvalidEntry\|"https:\/\/\*\.x\.fr\/\*"/);
  const none = checksFrom({ ...hostDown, policy: policyFrom([]) }, t, "fr")[0];
  assert.equal(none.detail, "popupPolicyNoneAllowed");
  assert.equal(checksFrom({ ...hostDown, policy: policyFrom(undefined) }, t, "fr")[0].title, "popupHost", "no policy: nothing to say");
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
