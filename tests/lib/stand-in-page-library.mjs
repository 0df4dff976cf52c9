// What the page-script tests (demo/tests/browser, idp/tests/browser) share: a stand-in for the
// CPx Connect page library that signs in the browser with a test key.
// The page script under test is real; only the extension and the host are left out.

import { readFileSync } from "node:fs";

/**
 * The stand-in library's source. `authenticate` signs origin and challenge as the host does
 * (a token cpx-verify accepts), records the language it was asked for in sessionStorage
 * (`asked-lang`), and fails with the code in sessionStorage `fail-with` when there is one.
 * @param {{ keyDer: string, certificateDer: string, retriesLeft?: number }} files PKCS#8 key
 *   and certificate (DER files); `retriesLeft` is what a failure reports, if anything.
 */
export function standInLibrary({ keyDer, certificateDer, retriesLeft }) {
  const key = readFileSync(keyDer).toString("base64");
  const certificate = readFileSync(certificateDer).toString("base64");
  const retries = retriesLeft === undefined ? "" : `error.retriesLeft = ${Number(retriesLeft)};`;
  return `// Test stand-in for the CPx Connect page library (test key, public on purpose).
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
export async function status() { return { service: "ok", readers: [] }; }
export async function authenticate(challengeNonce, options) {
  sessionStorage.setItem("asked-lang", (options && options.lang) || "");
  const failWith = sessionStorage.getItem("fail-with");
  if (failWith) {
    const error = new Error("stand-in failure");
    error.code = failWith;
    ${retries}
    throw error;
  }
  const message = new Uint8Array([...(await sha256(window.location.origin)), ...(await sha256(challengeNonce))]);
  const key = await crypto.subtle.importKey("pkcs8", bytes("${key}"), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, message));
  return { format: "web-eid:1.0", unverifiedCertificate: "${certificate}", algorithm: "RS256",
           signature: btoa(String.fromCharCode(...signature)), appVersion: "https://cpxconnect.org/cpx-connect/releases/test" };
}
`;
}
