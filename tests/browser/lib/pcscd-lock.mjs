// The machine-wide lock every test that talks to pcscd/vpcd holds, shared with the Rust tests
// (which take it with std::fs::File::lock, i.e. flock(2)). Node has no flock, so a `flock`
// child process holds it until released.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PCSCD_LOCK_FILE = "/tmp/cpx-connect-pcscd.lock";

/**
 * Waits for the exclusive lock; resolves to a function that releases it.
 * @param {number} [timeoutMs]
 * @returns {Promise<() => Promise<void>>}
 */
export function acquirePcscdLock(timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    const holder = spawn(
      "flock",
      ["--exclusive", "--timeout", String(Math.ceil(timeoutMs / 1000)), PCSCD_LOCK_FILE, "sh", "-c", "echo locked; exec cat >/dev/null"],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    let locked = false;
    holder.stdout.on("data", (chunk) => {
      if (locked || !String(chunk).includes("locked")) return;
      locked = true;
      resolve(
        () =>
          new Promise((done) => {
            holder.once("exit", () => done());
            holder.stdin.end(); // cat ends, flock releases the lock
          }),
      );
    });
    holder.on("error", reject);
    holder.on("exit", (code) => {
      if (!locked) reject(new Error(`could not take ${PCSCD_LOCK_FILE} (flock exited with ${code})`));
    });
  });
}

/**
 * A suite's run on pcscd: the lock, and a fresh folder (`prefix` and random letters) for the run's
 * files; `release` gives the lock back and removes the folder.
 * @param {string} prefix
 * @returns {Promise<{ dir: string, release: () => Promise<void> }>}
 */
export async function startPcscdRun(prefix) {
  const releaseLock = await acquirePcscdLock();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    release: async () => {
      await releaseLock();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
