#!/usr/bin/env node
// A scriptable stand-in for the `cpx-connect` native host: the same framing (4-byte native-order
// length + UTF-8 JSON, both ways) and protocol 1 (DESIGN.md), answers taken from a scenario file
// named by CPX_FAKE_HOST_SCENARIO. It signs for real (RS256 over SHA-256(origin) || SHA-256(nonce))
// with the scenario's key, so tests can check the token the page receives.
//
// Scenario fields (all optional): version, protocol, service, readers, certificates (each with
// correctPin and keyFile, never sent to the browser), errors {command: {code, message, ...}},
// crashOn (command name: exit 3 without answering), delayMs {command: ms}, log (JSONL file of the
// requests received, PINs replaced by their length).

import { createHash, createPrivateKey, sign } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import { endianness } from "node:os";

const MAX_FRAME = 1024 * 1024;
const scenario = JSON.parse(readFileSync(process.env.CPX_FAKE_HOST_SCENARIO ?? "", "utf8"));
const log = (/** @type {unknown} */ entry) => {
  if (scenario.log) appendFileSync(scenario.log, `${JSON.stringify(entry)}\n`);
};
log({ event: "start", argv: process.argv.slice(2) });

/** Tries left per certificate, for this process (one browser port). */
const retries = new Map(
  (scenario.certificates ?? []).map((/** @type {any} */ c) => [c.certificateId, c.pin?.retriesLeft ?? 3]),
);

const readLength = (/** @type {Buffer} */ b) => (endianness() === "LE" ? b.readUInt32LE(0) : b.readUInt32BE(0));
const writeLength = (/** @type {Buffer} */ b, /** @type {number} */ n) =>
  endianness() === "LE" ? b.writeUInt32LE(n, 0) : b.writeUInt32BE(n, 0);

/** @param {unknown} message */
function writeFrame(message) {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const header = Buffer.alloc(4);
  writeLength(header, body.length);
  process.stdout.write(Buffer.concat([header, body]));
}

let buffered = Buffer.alloc(0);
let queue = Promise.resolve();
process.stdin.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 4) {
    const length = readLength(buffered);
    if (length > MAX_FRAME) {
      writeFrame({ id: null, error: { code: "ERR_INVALID_REQUEST", message: "frame too large" } });
      process.exit(1);
    }
    if (buffered.length < 4 + length) break;
    const body = buffered.subarray(4, 4 + length).toString("utf8");
    buffered = buffered.subarray(4 + length);
    // One request at a time, in order, as the real host does.
    queue = queue.then(() => handle(body));
  }
});
process.stdin.on("end", () => queue.then(() => process.exit(0)));

/** @param {string} body */
async function handle(body) {
  /** @type {any} */
  let request;
  try {
    request = JSON.parse(body);
  } catch {
    writeFrame({ id: null, error: { code: "ERR_INVALID_REQUEST", message: "not JSON" } });
    return;
  }
  const { id, command } = request;
  const args = request.arguments ?? {};
  log({ event: "request", id, command, arguments: redact(args) });
  if (scenario.crashOn === command) {
    log({ event: "crash", command });
    process.exit(3);
  }
  const delay = scenario.delayMs?.[command];
  if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
  const forced = scenario.errors?.[command];
  if (forced) {
    writeFrame({ id, error: forced });
    return;
  }
  try {
    writeFrame({ id, result: answer(command, args) });
  } catch (error) {
    writeFrame({ id, error: /** @type {any} */ (error).wire ?? { code: "ERR_INTERNAL", message: String(error) } });
  }
  if (command === "quit") process.exit(0);
}

/** @param {Record<string, unknown>} args */
function redact(args) {
  return typeof args.pin === "string" ? { ...args, pin: `<${args.pin.length} digits>` } : args;
}

/**
 * @param {string} code
 * @param {string} message
 * @param {Record<string, unknown>} [extra]
 */
function fail(code, message, extra = {}) {
  return Object.assign(new Error(message), { wire: { code, message, ...extra } });
}

/**
 * @param {string} command
 * @param {any} args
 */
function answer(command, args) {
  switch (command) {
    case "version":
      return { version: scenario.version ?? "0.0.0-fake", protocol: scenario.protocol ?? 1 };
    case "status":
      return { service: scenario.service ?? "ok", readers: scenario.readers ?? [] };
    case "certificates": {
      const certificates = scenario.certificates ?? [];
      if (certificates.length === 0) throw fail("ERR_NO_CARD", "no card in any reader");
      return {
        certificates: certificates.map((/** @type {any} */ c) => ({
          certificateId: c.certificateId,
          reader: c.reader,
          cardType: c.cardType,
          certificate: c.certificate,
          holder: c.holder,
          notAfter: c.notAfter,
          pin: { ...c.pin, retriesLeft: retries.get(c.certificateId) },
        })),
      };
    }
    case "authenticate":
      return authenticate(args);
    case "quit":
      return {};
    default:
      throw fail("ERR_UNKNOWN_COMMAND", `unknown command ${command}`);
  }
}

/** @param {any} args */
function authenticate(args) {
  const { origin, challengeNonce, certificateId, pin } = args;
  if (typeof origin !== "string" || !/^https:\/\/[^/?#]+$/.test(origin) || origin.length > 255) {
    throw fail("ERR_ORIGIN_INVALID", "origin must be https://host[:port]", { field: "origin" });
  }
  if (typeof challengeNonce !== "string" || !/^[A-Za-z0-9+/=_-]{44,128}$/.test(challengeNonce)) {
    throw fail("ERR_NONCE_INVALID", "challengeNonce must be 44 to 128 base64 characters", { field: "challengeNonce" });
  }
  const certificate = (scenario.certificates ?? []).find((/** @type {any} */ c) => c.certificateId === certificateId);
  if (!certificate) throw fail("ERR_CERTIFICATE_NOT_FOUND", "no such certificate");
  if (typeof pin !== "string" || pin.length === 0) throw fail("ERR_PIN_REQUIRED", "a PIN is needed");
  if (!/^[0-9]{4,8}$/.test(pin)) throw fail("ERR_PIN_FORMAT", "PIN must be 4 to 8 digits", { field: "pin" });
  const left = retries.get(certificateId) ?? 0;
  if (left <= 0) throw fail("ERR_PIN_BLOCKED", "the PIN is blocked");
  if (pin !== certificate.correctPin) {
    retries.set(certificateId, left - 1);
    if (left - 1 === 0) throw fail("ERR_PIN_BLOCKED", "the PIN is blocked");
    throw fail("ERR_PIN_INCORRECT", "wrong PIN", { retriesLeft: left - 1 });
  }
  retries.set(certificateId, certificate.pin?.maxRetries ?? 3);
  const digest = (/** @type {string} */ text) => createHash("sha256").update(text, "utf8").digest();
  const message = Buffer.concat([digest(origin), digest(challengeNonce)]);
  const key = createPrivateKey(readFileSync(certificate.keyFile));
  return {
    format: "web-eid:1.0",
    unverifiedCertificate: certificate.certificate,
    algorithm: "RS256",
    signature: sign("sha256", message, key).toString("base64"),
    appVersion: "https://github.com/cpxconnect/cpx-connect/releases/0.0.0-fake",
  };
}
