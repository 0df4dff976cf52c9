// Puts the virtual CPS3 (crate cpx-virtual-card) in a vpcd slot of the running pcscd for the
// real-host suite, and takes it out again. The caller holds the pcscd lock.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** pcscd polls vpcd about every 400 ms: give it time to see the card before a test looks. */
const PCSCD_NOTICE_MS = 1_500;

/**
 * @param {string} binary path of cpx-virtual-card
 * @param {{ pin: string, port?: number, holder?: "dupont" | "martin" }} options
 * @returns {Promise<() => Promise<void>>} removes the card
 */
export function insertVirtualCard(binary, { pin, port = 35963, holder = "dupont" }) {
  if (!existsSync(binary)) {
    return Promise.reject(new Error(`${binary} not found: cargo build -p cpx-virtual-card, or set CPX_VIRTUAL_CARD`));
  }
  return new Promise((resolve, reject) => {
    const card = spawn(binary, ["--port", String(port), "--holder", holder, "--pin", pin, "--until-stdin-closes"], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let inserted = false;
    let log = "";
    card.stderr.on("data", (chunk) => {
      log += String(chunk);
      if (!inserted && log.includes("card inserted")) {
        inserted = true;
        setTimeout(
          () =>
            resolve(
              () =>
                new Promise((done) => {
                  if (card.exitCode !== null) return done();
                  card.once("exit", () => done());
                  card.stdin.end();
                }),
            ),
          PCSCD_NOTICE_MS,
        );
      }
    });
    card.on("error", reject);
    card.on("exit", (code) => {
      if (!inserted) reject(new Error(`cpx-virtual-card exited with ${code} before inserting the card:\n${log}`));
    });
  });
}
