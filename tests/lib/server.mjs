// A test server binary (`cpx-demo`, `cpx-idp`) started and awaited, shared by the Node test
// folders that serve one (tests/browser, tests/oidc-clients).

import { spawn } from "node:child_process";

const START_TIMEOUT_MS = 15_000;

/**
 * Starts a server binary and resolves once its log says it serves (`<name>: serving`, printed
 * once the port is bound: connections wait in the backlog until it serves).
 * @param {string} name
 * @param {string} binary
 * @param {string[]} args
 * @returns {Promise<{ log: () => string, close: () => Promise<void> }>}
 */
export async function startServer(name, binary, args) {
  const server = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  server.stderr.on("data", (chunk) => {
    log += String(chunk);
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
    const onData = () => {
      if (!log.includes(`${name}: serving`)) return;
      clearTimeout(timer);
      server.stderr.off("data", onData);
      resolve(undefined);
    };
    server.stderr.on("data", onData);
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before serving:\n${log}`));
    });
    server.once("error", reject);
  });
  return {
    log: () => log,
    close: () =>
      new Promise((done) => {
        if (server.exitCode !== null || server.signalCode !== null) return done();
        server.once("exit", () => done());
        server.kill("SIGTERM");
      }),
  };
}
