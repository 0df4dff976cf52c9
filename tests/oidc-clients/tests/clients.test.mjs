// Client libraries nobody here wrote log in at a served cpx-idp (issue 23, item 3): Node's
// openid-client and Python's Authlib each do discovery, the code flow with the PKCE S256 pair
// they generate, the token request (private_key_jwt, client_secret_basic), the ID token check
// against the JWKS and userinfo; the card step is the real host with the virtual card in vpcd.
// And each refuses what it must: openid-client a callback whose `iss` is not the issuer's
// (RFC 9207), Authlib an ID token whose nonce is not the one it sent.
//
// Binaries: CPX_CONNECT_HOST (default target/debug/cpx-connect), cpx-idp and cpx-virtual-card
// next to it (or CPX_IDP_BIN, CPX_VIRTUAL_CARD). Python: CPX_PYTHON (default /usr/bin/python3,
// where Debian's python3-authlib is). Needs pcscd with vpcd; takes the machine's pcscd lock.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as client from "openid-client";
import { acquirePcscdLock } from "../../browser/lib/pcscd-lock.mjs";
import { insertVirtualCard } from "../../browser/lib/virtual-card.mjs";
import { fetchTrusting } from "../lib/https.mjs";
import { startProvider } from "../lib/provider.mjs";
import { cardLogin } from "../lib/user-agent.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "../../..");
const HOST = resolve(process.env.CPX_CONNECT_HOST ?? join(REPO_ROOT, "target", "debug", "cpx-connect"));
const IDP = process.env.CPX_IDP_BIN ?? join(dirname(HOST), "cpx-idp");
const VIRTUAL_CARD = process.env.CPX_VIRTUAL_CARD ?? join(dirname(HOST), "cpx-virtual-card");
const PYTHON = process.env.CPX_PYTHON ?? "/usr/bin/python3";
const PIN = "1234";
/** The virtual holder Dupont (tests/virtual-card/fixtures/README.md): what her certificate proves. */
const HOLDER = { given_name: "MARIE", family_name: "DUPONT", SubjectNameID: "810001234567", preferred_username: "810001234567", profession: "Médecin" };

const NODE_CLIENT = { clientId: "node-site", redirectUri: "https://node-site.test/callback", kid: "node-site-1" };
const PYTHON_CLIENT = { clientId: "python-site", redirectUri: "http://127.0.0.1:9/callback", secret: "python-site-secret-made-for-this-test-run-only-0123456789" };

/** @param {Record<string, unknown>} claims */
function assertHolder(claims) {
  for (const [name, value] of Object.entries(HOLDER)) assert.equal(claims[name], value, name);
  assert.match(String(claims.sub), /^[A-Za-z0-9_-]{43}$/, "sub: a SHA-256, base64url");
}

/** @param {Record<string, unknown>} claims @param {string} issuer @param {string} clientId */
function assertIdToken(claims, issuer, clientId) {
  assertHolder(claims);
  assert.equal(claims.iss, issuer);
  assert.deepEqual([claims.aud].flat(), [clientId]);
  assert.deepEqual(claims.amr, ["sc", "pin"]);
  assert.ok(Number(claims.exp) > Date.now() / 1000, "exp in the future");
}

/** Runs the Authlib site; resolves to its JSON output. */
function runAuthlib(/** @type {string} */ mode, /** @type {Record<string, string>} */ env) {
  return new Promise((done, fail) => {
    const python = spawn(PYTHON, [join(HERE, "..", "authlib_client.py"), mode], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    python.stdout.on("data", (chunk) => (out += String(chunk)));
    python.stderr.on("data", (chunk) => (err += String(chunk)));
    python.on("error", fail);
    python.on("exit", (code) => {
      if (code !== 0) return fail(new Error(`authlib_client.py ${mode} exited with ${code}:\n${err}`));
      try {
        done(JSON.parse(out));
      } catch (error) {
        fail(new Error(`authlib_client.py printed no JSON: ${out}\n${err}`));
      }
    });
  });
}

describe("third-party OpenID Connect clients against cpx-idp, card through the real host", () => {
  /** @type {Awaited<ReturnType<typeof startProvider>>} */
  let provider;
  /** @type {() => Promise<void>} */
  let releaseLock = async () => {};
  /** @type {() => Promise<void>} */
  let removeCard = async () => {};
  /** @type {CryptoKey} */
  let nodeClientKey;
  /** The public `sub` each library was given: the same holder, the same sub for every site. */
  const subs = new Map();

  before(async () => {
    for (const binary of [HOST, IDP, VIRTUAL_CARD]) {
      if (!existsSync(binary)) throw new Error(`${binary} not found: cargo build -p cpx-connect -p cpx-idp -p cpx-virtual-card`);
    }
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: apt-get install python3-authlib python3-requests (scripts/setup.sh test)`);
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    nodeClientKey = keys.privateKey;
    const publicJwk = await crypto.subtle.exportKey("jwk", keys.publicKey);
    releaseLock = await acquirePcscdLock();
    removeCard = await insertVirtualCard(VIRTUAL_CARD, { pin: PIN });
    provider = await startProvider({
      binary: IDP,
      repoRoot: REPO_ROOT,
      clients: [
        { clientId: NODE_CLIENT.clientId, redirectUri: NODE_CLIENT.redirectUri, jwks: { keys: [{ ...publicJwk, kid: NODE_CLIENT.kid, use: "sig" }] } },
        { clientId: PYTHON_CLIENT.clientId, redirectUri: PYTHON_CLIENT.redirectUri, secret: PYTHON_CLIENT.secret },
      ],
    });
  });

  after(async () => {
    await provider?.close();
    await removeCard();
    await releaseLock();
  });

  /** openid-client's view of the provider: discovery over the run's CA, private_key_jwt. */
  async function discoverForNode() {
    const fetch = fetchTrusting(provider.ca);
    const config = await client.discovery(
      new URL(provider.issuer),
      NODE_CLIENT.clientId,
      undefined,
      client.PrivateKeyJwt({ key: nodeClientKey, kid: NODE_CLIENT.kid }),
      { [client.customFetch]: fetch },
    );
    config[client.customFetch] = fetch;
    return config;
  }

  /** The library's authorization request, then the card login: the library's checks and the callback. */
  async function nodeLogin(/** @type {client.Configuration} */ config) {
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const expectedNonce = client.randomNonce();
    const expectedState = client.randomState();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: NODE_CLIENT.redirectUri,
      scope: "openid profile",
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: "S256",
      nonce: expectedNonce,
      state: expectedState,
    });
    const callback = await cardLogin({ authorizationUrl: authorizationUrl.href, redirectUri: NODE_CLIENT.redirectUri, ca: provider.ca, hostBinary: HOST, pin: PIN });
    return { callback: new URL(callback), checks: { pkceCodeVerifier, expectedNonce, expectedState, idTokenExpected: true } };
  }

  test("openid-client: discovery, code flow with PKCE S256, private_key_jwt, ID token checked against the JWKS, userinfo", async () => {
    const config = await discoverForNode();
    assert.equal(config.serverMetadata().issuer, provider.issuer);
    const { callback, checks } = await nodeLogin(config);
    assert.equal(callback.searchParams.get("iss"), provider.issuer, "RFC 9207 iss in the response");
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const claims = /** @type {Record<string, unknown>} */ (tokens.claims());
    assertIdToken(claims, provider.issuer, NODE_CLIENT.clientId);
    assert.equal(claims.nonce, checks.expectedNonce);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
    assertHolder(userinfo);
    subs.set("openid-client", claims.sub);
  });

  test("openid-client refuses a callback whose iss is not the issuer; the same callback with it goes through", async () => {
    const config = await discoverForNode();
    const { callback, checks } = await nodeLogin(config);
    const forged = new URL(callback);
    forged.searchParams.set("iss", "https://attacker.test");
    await assert.rejects(client.authorizationCodeGrant(config, forged, checks), (/** @type {any} */ error) => {
      assert.equal(error.code, "OAUTH_INVALID_RESPONSE");
      assert.equal(error.cause?.message, 'unexpected "iss" (issuer) response parameter value');
      assert.equal(error.cause?.cause?.expected, provider.issuer);
      return true;
    });
    // Refused before the code was sent: the genuine callback still redeems it.
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    assertIdToken(/** @type {Record<string, unknown>} */ (tokens.claims()), provider.issuer, NODE_CLIENT.clientId);
  });

  const authlibEnv = () => ({
    CPX_OIDC_ISSUER: provider.issuer,
    CPX_OIDC_CLIENT_ID: PYTHON_CLIENT.clientId,
    CPX_OIDC_CLIENT_SECRET: PYTHON_CLIENT.secret,
    CPX_OIDC_REDIRECT_URI: PYTHON_CLIENT.redirectUri,
    REQUESTS_CA_BUNDLE: provider.caFile,
    CPX_OIDC_CA: provider.caFile,
    CPX_CONNECT_HOST: HOST,
    CPX_OIDC_PIN: PIN,
  });

  test("Authlib: discovery, code flow with PKCE S256, client_secret_basic, ID token checked against the JWKS, userinfo", async () => {
    const result = await runAuthlib("login", authlibEnv());
    const request = new URL(result.authorization_url);
    assert.equal(request.searchParams.get("code_challenge_method"), "S256");
    assert.match(request.searchParams.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.equal(new URL(result.callback).searchParams.get("iss"), provider.issuer);
    assertIdToken(result.id_token, provider.issuer, PYTHON_CLIENT.clientId);
    assert.equal(result.id_token.nonce, request.searchParams.get("nonce"));
    assertHolder(result.userinfo);
    assert.equal(result.userinfo.sub, result.id_token.sub);
    subs.set("Authlib", result.id_token.sub);
    if (subs.has("openid-client")) assert.equal(subs.get("Authlib"), subs.get("openid-client"), "public sub, same for every site");
  });

  test("Authlib refuses the ID token when the nonce is not the one it sent", async () => {
    const result = await runAuthlib("wrong-nonce", authlibEnv());
    assert.deepEqual(result.refused, { error: "invalid_claim", description: 'Invalid claim "nonce"' });
    assertIdToken(result.id_token, provider.issuer, PYTHON_CLIENT.clientId);
  });
});
