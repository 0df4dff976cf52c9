// The check the browser tests make of a token a page received: the card signed what the host
// asks it to sign for this origin and nonce, with the key of the token's certificate.

import assert from "node:assert/strict";
import { X509Certificate, createHash, verify } from "node:crypto";
import { loginOutcome } from "./page-driver.mjs";

/**
 * The token of the login started in the page (page-driver's startLogin), which must succeed: the
 * outcome is the failure's message otherwise.
 * @param {import("./page-driver.mjs").PageLike} page
 */
export async function tokenOfLogin(page) {
  const outcome = await loginOutcome(page);
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return /** @type {any} */ (outcome).value;
}

/**
 * Checks that the token's signature covers SHA-256(origin) || SHA-256(nonce) under the key of its
 * certificate (the virtual card's RSA key, SHA-256), and returns that certificate.
 * @param {{ unverifiedCertificate: string, signature: string }} token
 * @param {string} origin the origin the browser reported for the page
 * @param {string} nonce the page's challenge nonce
 */
export function certificateOfSignedToken(token, origin, nonce) {
  const certificate = new X509Certificate(Buffer.from(token.unverifiedCertificate, "base64"));
  const sha256 = (/** @type {string} */ text) => createHash("sha256").update(text, "utf8").digest();
  const signed = Buffer.concat([sha256(origin), sha256(nonce)]);
  assert.equal(verify("sha256", signed, certificate.publicKey, Buffer.from(token.signature, "base64")), true);
  return certificate;
}
