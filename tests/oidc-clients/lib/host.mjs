// The real host `cpx-connect` spoken to as the extension speaks to it (host/PROTOCOL.md): 4-byte
// length in native byte order, then UTF-8 JSON; `certificates`, then `authenticate` with the
// PIN as the extension's PIN window passes it.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import { join } from "node:path";

const ANSWER_TIMEOUT_MS = 30_000;
const LITTLE_ENDIAN = endianness() === "LE";

/** @param {Record<string, unknown>} request */
function frame(request) {
  const body = Buffer.from(JSON.stringify(request), "utf8");
  const length = Buffer.alloc(4);
  if (LITTLE_ENDIAN) length.writeUInt32LE(body.length);
  else length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/**
 * Starts the host as Chrome does (its arguments, a fresh HOME and card cache), sends each
 * request in turn and returns the answers; the host exits when its stdin closes.
 * @param {string} binary
 * @param {(previous: any[]) => Record<string, unknown> | null} next the next request, from the answers so far; null to stop
 * @returns {Promise<any[]>}
 */
export async function converse(binary, next) {
  const home = mkdtempSync(join(tmpdir(), "cpx-oidc-host-"));
  const host = spawn(binary, ["chrome-extension://abcdefghijklmnopabcdefghijklmnop/", "--parent-window=0"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, HOME: home, XDG_STATE_HOME: join(home, "state"), CPX_CONNECT_CACHE_DIR: join(home, "cache") },
  });
  let stderr = "";
  host.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  let pending = Buffer.alloc(0);
  /** @type {((answer: any) => void) | null} */
  let waiting = null;
  /** @type {any[]} */
  const queued = [];
  host.stdout.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = LITTLE_ENDIAN ? pending.readUInt32LE(0) : pending.readUInt32BE(0);
      if (pending.length < 4 + length) break;
      const answer = JSON.parse(pending.subarray(4, 4 + length).toString("utf8"));
      pending = pending.subarray(4 + length);
      if (waiting) {
        const deliver = waiting;
        waiting = null;
        deliver(answer);
      } else queued.push(answer);
    }
  });
  const exited = new Promise((resolve) => host.once("exit", resolve));
  const answer = () =>
    new Promise((resolve, reject) => {
      if (queued.length) return resolve(queued.shift());
      const timer = setTimeout(() => reject(new Error(`no answer from cpx-connect within ${ANSWER_TIMEOUT_MS} ms\n${stderr}`)), ANSWER_TIMEOUT_MS);
      waiting = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`cpx-connect exited (${code}) without answering\n${stderr}`));
      });
    });
  const answers = [];
  try {
    for (let request = next(answers); request; request = next(answers)) {
      host.stdin.write(frame(request));
      answers.push(await answer());
    }
  } finally {
    host.stdin.end();
    await exited;
    rmSync(home, { recursive: true, force: true });
  }
  return answers;
}

/**
 * The card's token for `origin` and `challengeNonce`, from the first card the host lists.
 * @param {string} binary
 * @param {{ origin: string, challengeNonce: string, pin: string }} request
 */
export async function authenticateWithCard(binary, { origin, challengeNonce, pin }) {
  const answers = await converse(binary, (previous) => {
    if (previous.length === 0) return { id: 1, command: "certificates" };
    if (previous.length === 1) {
      const listed = previous[0].result?.certificates;
      if (!Array.isArray(listed) || listed.length === 0) {
        throw new Error(`the host lists no card: ${JSON.stringify(previous[0])}`);
      }
      return { id: 2, command: "authenticate", arguments: { origin, challengeNonce, certificateId: listed[0].certificateId, pin } };
    }
    return null;
  });
  const last = answers[answers.length - 1];
  if (!last.result) throw new Error(`authenticate failed: ${JSON.stringify(last.error)}`);
  return last.result;
}
