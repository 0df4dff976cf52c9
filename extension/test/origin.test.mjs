import assert from "node:assert/strict";
import { test } from "node:test";
import {
  STARTUP_GRACE_MS,
  isHostAcceptedNonce,
  isHostAcceptedOrigin,
  isOriginAllowed,
  pageOriginOf,
  parseOriginPattern,
  policyFrom,
  readOriginPolicy,
} from "../src/background/origin.js";

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

test("an opaque \"null\" origin is refused, not replaced by the URL's origin", () => {
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 0, origin: "null", url: "https://a.example/sandboxed" }, OWN_ID), {
    code: "ERR_INSECURE_CONTEXT",
  });
});

test("allowedOrigins: absent allows all; entries match exactly or by subdomain wildcard", () => {
  assert.equal(isOriginAllowed("https://a.example", policyFrom(undefined)), true);
  const list = policyFrom(["https://portail.example.fr", "https://localhost:8443", "https://*.sante.example"]);
  assert.equal(isOriginAllowed("https://portail.example.fr", list), true);
  assert.equal(isOriginAllowed("https://portail.example.fr:444", list), false);
  assert.equal(isOriginAllowed("https://localhost:8443", list), true);
  assert.equal(isOriginAllowed("https://localhost:9443", list), false);
  assert.equal(isOriginAllowed("https://ght.sante.example", list), true);
  assert.equal(isOriginAllowed("https://sante.example", list), false);
  assert.equal(isOriginAllowed("https://evilsante.example", list), false);
  assert.equal(isOriginAllowed("https://other.example", policyFrom([42, "not a url"])), false);
});

test("allowedOrigins fails closed: an empty list, a string (Firefox does no schema check) or an object refuse every site", () => {
  assert.equal(isOriginAllowed("https://a.example", policyFrom([])), false);
  assert.equal(policyFrom("https://a.example").state, "malformed");
  assert.equal(policyFrom(null).state, "malformed");
  assert.equal(isOriginAllowed("https://a.example", policyFrom(null)), false);
  assert.equal(isOriginAllowed("https://a.example", policyFrom("https://a.example")), false);
  assert.equal(isOriginAllowed("https://a.example", policyFrom({ 0: "https://a.example" })), false);
});

test("origin patterns: the default port and IDN hosts are normalised", () => {
  const list = policyFrom(["https://*.x.fr:443", "https://portail.y.fr:443/", "https://*.santé.fr", "https://Hôpital.fr"]);
  assert.equal(isOriginAllowed("https://a.x.fr", list), true);
  assert.equal(isOriginAllowed("https://portail.y.fr", list), true);
  assert.equal(isOriginAllowed("https://ght.xn--sant-epa.fr", list), true);
  assert.equal(isOriginAllowed("https://xn--hpital-ixa.fr", list), true);
  assert.equal(isOriginAllowed("https://a.x.fr:8443", list), false);
});

test("origin patterns of unknown forms are refused with a reason, never silently kept", () => {
  for (const entry of ["[*.]x.fr", "https://*.x.fr/*", "https://x.fr/login", "http://x.fr", "*.x.fr", "https://a.*.x.fr", "https://*.fr", 7]) {
    const parsed = parseOriginPattern(entry);
    assert.equal(parsed.pattern, undefined, String(entry));
    assert.ok(parsed.problem, String(entry));
  }
  const list = policyFrom(["[*.]x.fr", "https://*.x.fr/*"]);
  assert.equal(isOriginAllowed("https://a.x.fr", list), false);
  assert.equal(isOriginAllowed("https://x.fr", list), false);
});

/**
 * storage.managed and storage.local doubles.
 * @param {{ managed?: () => any }} options
 */
function fakeStorage({ managed = () => ({}) } = {}) {
  /** @type {Record<string, unknown>} */
  const local = {};
  return {
    local,
    api: /** @type {any} */ ({
      storage: {
        managed: { get: async () => managed() },
        local: {
          get: async (/** @type {string} */ key) => (key in local ? { [key]: local[key] } : {}),
          set: async (/** @type {Record<string, unknown>} */ items) => Object.assign(local, items),
          remove: async (/** @type {string} */ key) => delete local[key],
        },
      },
    }),
  };
}

test("an empty managed read at startup uses the last policy seen; later it means the policy was removed", async () => {
  let managed = { allowedOrigins: ["https://portail.example.fr"] };
  const storage = fakeStorage({ managed: () => managed });
  const startedAt = 1_000;
  const seen = await readOriginPolicy(storage.api, { startedAt, now: () => startedAt + 10 });
  assert.equal(isOriginAllowed("https://evil.example", seen), false);

  // The browser restarts; Chrome answers {} before its policies are loaded.
  managed = /** @type {any} */ ({});
  const early = await readOriginPolicy(storage.api, { startedAt, now: () => startedAt + 10 });
  assert.equal(isOriginAllowed("https://evil.example", early), false, "still the remembered policy");
  assert.equal(isOriginAllowed("https://portail.example.fr", early), true);

  const late = await readOriginPolicy(storage.api, { startedAt, now: () => startedAt + STARTUP_GRACE_MS + 1 });
  assert.equal(late.state, "unset");
  assert.deepEqual(storage.local, {}, "the memory is cleared");
});

test("a policy read error refuses every site unless a policy was seen before; Firefox's no-policy answer is not an error", async () => {
  const broken = fakeStorage({ managed: () => { throw new Error("storage is corrupted"); } });
  const policy = await readOriginPolicy(broken.api, { startedAt: 0 });
  assert.equal(policy.state, "malformed");
  assert.equal(isOriginAllowed("https://a.example", policy), false);

  const none = fakeStorage({ managed: () => { throw new Error("Managed storage manifest not found"); } });
  assert.equal((await readOriginPolicy(none.api, { startedAt: 0 })).state, "unset");
});

test("the nonce and the origin are checked as the host checks them", () => {
  const b64 = (/** @type {number} */ n) => Buffer.alloc(n, 7).toString("base64");
  assert.equal(isHostAcceptedNonce(b64(32)), true);
  assert.equal(isHostAcceptedNonce(b64(96)), true);
  assert.equal(isHostAcceptedNonce(b64(31)), true, "44 characters with padding");
  assert.equal(isHostAcceptedNonce(b64(30)), false, "40 characters: too short");
  assert.equal(isHostAcceptedNonce(b64(97)), false, "132 characters: too long");
  assert.equal(isHostAcceptedNonce(`${b64(32).slice(0, 43)}!`), false);
  assert.equal(isHostAcceptedNonce("A".repeat(45)), false, "not a multiple of 4");
  assert.equal(isHostAcceptedNonce(`${"A".repeat(42)}B=`), false, "stray bits before the padding");
  assert.equal(isHostAcceptedNonce(crypto.randomUUID().repeat(2)), false, "72 characters with dashes");
  for (const origin of ["https://example.org", "https://localhost:8443", "https://127.0.0.1:8443", "https://[::1]:8443", "https://xn--sant-dpa.fr"]) {
    assert.equal(isHostAcceptedOrigin(origin), true, origin);
  }
  for (const origin of ["http://example.org", "https://example.org/", "https://Example.org", "https://example.org:0", "https://example.org:65536", "https://exa_mple.org", `https://${"a".repeat(250)}.org`]) {
    assert.equal(isHostAcceptedOrigin(origin), false, origin);
  }
});
