import assert from "node:assert/strict";
import { test } from "node:test";
import {
  STARTUP_GRACE_MS,
  isHostAcceptedNonce,
  isHostAcceptedOrigin,
  isOriginAllowed,
  isOriginListed,
  pageOriginOf,
  parseOriginPattern,
  policyFrom,
  readOriginPolicy,
} from "../src/background/origin.js";

const OWN_ID = "ours";
const tab = /** @type {any} */ ({ id: 7 });

/**
 * Checks that `policy` allows each of `allowed` and refuses each of `refused`.
 * @param {any} policy @param {{ allowed: string[], refused: string[] }} origins
 */
function assertAllows(policy, { allowed, refused }) {
  for (const origin of allowed) assert.equal(isOriginAllowed(origin, policy), true, origin);
  for (const origin of refused) assert.equal(isOriginAllowed(origin, policy), false, origin);
}

test("the origin is sender.origin, never the URL's", () => {
  assert.equal(pageOriginOf({ id: OWN_ID, tab, frameId: 0, origin: "https://a.example", url: "https://b.example/x" }, OWN_ID), "https://a.example");
});

test("a sender without sender.origin is refused, not given its URL's origin", () => {
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 0, url: "https://b.example:8443/login?x=1" }, OWN_ID), {
    code: "ERR_INVALID_REQUEST",
    message: /no sender origin/,
  });
  assert.throws(() => pageOriginOf(/** @type {any} */ ({ id: OWN_ID, tab, frameId: 0, origin: "", url: "https://b.example/" }), OWN_ID), {
    code: "ERR_INVALID_REQUEST",
  });
});

test("senders that are not a top-level https page of ours are refused", () => {
  assert.throws(() => pageOriginOf({ id: "other", tab, origin: "https://a.example" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, origin: "https://a.example" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 3, origin: "https://a.example" }, OWN_ID), { code: "ERR_INVALID_REQUEST" });
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 0, origin: "http://localhost:8080" }, OWN_ID), { code: "ERR_INSECURE_CONTEXT" });
});

test("an opaque \"null\" origin is refused, not replaced by the URL's origin", () => {
  assert.throws(() => pageOriginOf({ id: OWN_ID, tab, frameId: 0, origin: "null", url: "https://a.example/sandboxed" }, OWN_ID), {
    code: "ERR_INSECURE_CONTEXT",
  });
});

test("no managed key allows every https site; a valid allowedOrigins only its entries, exactly or by subdomain", () => {
  assert.equal(policyFrom(undefined).state, "unset");
  assert.equal(policyFrom({}).state, "unset");
  assert.equal(isOriginAllowed("https://a.example", policyFrom({})), true);
  const origins = ["https://portail.example.fr", "https://localhost:8443", "https://*.sante.example"];
  for (const list of [policyFrom({ allowedOrigins: origins }), policyFrom({ allowedOrigins: origins, restrictOrigins: true })]) {
    assert.equal(list.state, "list");
    assertAllows(list, {
      allowed: ["https://portail.example.fr", "https://localhost:8443", "https://ght.sante.example"],
      refused: ["https://portail.example.fr:444", "https://localhost:9443", "https://sante.example", "https://evilsante.example"],
    });
    assert.equal(isOriginListed("https://ght.sante.example", list), true);
  }
  assert.equal(isOriginListed("https://a.example", policyFrom({})), false, "no policy lists nobody");
  assert.equal(policyFrom({ restrictOrigins: false }).state, "unset");
});

test("every mistake fails closed: wrong types, an invalid entry, an empty list, restrictOrigins without a list", () => {
  const refusing = [
    { allowedOrigins: [] },
    { allowedOrigins: "https://a.example" },
    { allowedOrigins: null },
    { allowedOrigins: { 0: "https://a.example" } },
    { allowedOrigins: ["https://a.example", 42] },
    { allowedOrigins: ["https://a.example", "not a url"] },
    { allowedOrigins: ["https://a.example", "[*.]a.example"] },
    { restrictOrigins: true },
    { restrictOrigins: true, allowedOrigins: [] },
    { restrictOrigins: "true", allowedOrigins: ["https://a.example"] },
  ];
  for (const managed of refusing) {
    const policy = policyFrom(managed);
    assert.equal(isOriginAllowed("https://a.example", policy), false, JSON.stringify(managed));
    assert.equal(isOriginListed("https://a.example", policy), false, JSON.stringify(managed));
  }
  assert.match(/** @type {any} */ (policyFrom({ allowedOrigins: null })).reason, /must be a list, not null/);
  assert.match(/** @type {any} */ (policyFrom({ restrictOrigins: true })).reason, /restrictOrigins is true but no valid allowedOrigins/);
});

test("an unknown or miscased managed key refuses every site and is named", () => {
  for (const key of ["AllowedOrigins", "allowedorigins", "allowed_origins", "RestrictOrigins", "somethingElse"]) {
    const policy = policyFrom({ [key]: ["https://a.example"], allowedOrigins: ["https://a.example"] });
    assert.equal(policy.state, "malformed", key);
    assert.equal(isOriginAllowed("https://a.example", policy), false, key);
    assert.match(/** @type {any} */ (policy).reason, new RegExp(key), key);
  }
  assert.match(/** @type {any} */ (policyFrom({ AllowedOrigins: [] })).reason, /AllowedOrigins \(did you mean allowedOrigins\?\)/);
});

test("origin patterns: the default port, case and IDN hosts are normalised, and shown normalised", () => {
  const list = policyFrom({ allowedOrigins: ["https://*.x.fr:443", "https://portail.y.fr:443/", "https://*.santé.fr", "https://Hôpital.fr", "https://[0:0::1]:8443"] });
  assert.equal(list.state, "list");
  assertAllows(list, {
    allowed: ["https://a.x.fr", "https://portail.y.fr", "https://ght.xn--sant-epa.fr", "https://xn--hpital-ixa.fr", "https://[::1]:8443"],
    refused: ["https://a.x.fr:8443"],
  });
  assert.deepEqual(
    /** @type {any} */ (list).entries.map((/** @type {any} */ e) => e.shown),
    ["https://*.x.fr", "https://portail.y.fr", "https://*.xn--sant-epa.fr", "https://xn--hpital-ixa.fr", "https://[::1]:8443"],
  );
});

test("origin patterns of unknown forms are refused with a reason, never silently kept", () => {
  for (const entry of ["[*.]x.fr", "https://*.x.fr/*", "https://x.fr/login", "http://x.fr", "*.x.fr", "https://a.*.x.fr", "https://*.fr", 7]) {
    const parsed = parseOriginPattern(entry);
    assert.equal(parsed.pattern, undefined, String(entry));
    assert.ok(parsed.problem, String(entry));
  }
});

test("entries the URL parser reads as another host are refused: \\, %, userinfo, query, fragment, dot look-alikes", () => {
  // What new URL() makes of them: https://evil.com\.good.fr -> https://evil.com, and so on.
  const tricks = [
    "https://evil.com\\.good.fr",
    "https://*.evil.com\\.good.fr",
    "https://evil.com%2f.good.fr",
    "https://good.fr%2eevil.com",
    "https://user@good.fr",
    "https://good.fr@evil.com",
    "https://good.fr?x=1",
    "https://good.fr#x",
    "https://evil.com\uff0egood.fr",
    "https://g\u200Bood.fr",
    "https://0x7f.1",
    "https://good.fr:0443",
  ];
  for (const entry of tricks) {
    const parsed = parseOriginPattern(entry);
    assert.equal(parsed.pattern, undefined, entry);
    assert.ok(parsed.problem, entry);
    const policy = policyFrom({ allowedOrigins: [entry] });
    assert.equal(isOriginAllowed("https://evil.com", policy), false, entry);
    assert.equal(isOriginAllowed("https://good.fr", policy), false, entry);
  }
  assert.match(parseOriginPattern("https://evil.com\\.good.fr").problem ?? "", /\\ or %/);
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
