import assert from "node:assert/strict";
import { test } from "node:test";
import { isOriginAllowed, pageOriginOf } from "../src/background/origin.js";

const OWN_ID = "ours";
const tab = /** @type {any} */ ({ id: 7 });

test("the origin comes from the sender, preferring sender.origin", () => {
  assert.equal(pageOriginOf({ id: OWN_ID, tab, frameId: 0, origin: "https://a.example", url: "https://b.example/x" }, OWN_ID), "https://a.example");
  assert.equal(pageOriginOf({ id: OWN_ID, tab, frameId: 0, url: "https://b.example:8443/login?x=1" }, OWN_ID), "https://b.example:8443");
});

test("senders that are not a top-level https page of ours are refused", () => {
  assert.throws(() => pageOriginOf({ id: "other", tab, url: "https://a.example/" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, url: "https://a.example/" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 3, url: "https://a.example/" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 0, url: "http://localhost:8080/" }, OWN_ID), { code: "ERR_INSECURE_CONTEXT" });
});

test("allowedOrigins: absent or empty allows all, entries match exactly or by subdomain wildcard", () => {
  assert.equal(isOriginAllowed("https://a.example", undefined), true);
  assert.equal(isOriginAllowed("https://a.example", []), true);
  const list = ["https://portail.example.fr", "https://localhost:8443", "https://*.sante.example"];
  assert.equal(isOriginAllowed("https://portail.example.fr", list), true);
  assert.equal(isOriginAllowed("https://portail.example.fr:444", list), false);
  assert.equal(isOriginAllowed("https://localhost:8443", list), true);
  assert.equal(isOriginAllowed("https://localhost:9443", list), false);
  assert.equal(isOriginAllowed("https://ght.sante.example", list), true);
  assert.equal(isOriginAllowed("https://sante.example", list), false);
  assert.equal(isOriginAllowed("https://evilsante.example", list), false);
  assert.equal(isOriginAllowed("https://other.example", [42, "not a url"]), false);
});
