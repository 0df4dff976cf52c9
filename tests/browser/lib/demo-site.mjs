// What the demo-flow suites need beside the shared harness: the real `cpx-demo` relying party on
// a free port (and the OpenID Connect provider `cpx-idp` beside it), a virtual card whose APDU log the test can read (to prove what reached the card),
// a wrapper that records every start of the real host (to prove when it was never asked), a
// direct `status` request to the real host (to see what pcscd sees), and page helpers that
// survive the navigations of a real login.

import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "../../lib/free-port.mjs";
import { startServer } from "../../lib/server.mjs";
import { PAGE_LIBRARY, REPO_ROOT } from "./paths.mjs";

/** pcscd polls vpcd about every 400 ms: give it time to see the card before a test looks. */
const PCSCD_NOTICE_MS = 1_500;
// Shared with every Node test folder; exported here for the tests that start the demo.
export { freePort };

/** The reader of vpcd's first slot, as PC/SC names it. */
export const FIRST_SLOT_READER = "Virtual PCD 00 00";

/**
 * Starts `cpx-demo serve` on a free port (or `port`) with its own fresh SQLite file and the demo
 * account; `extraArgs` are added (e.g. the `--oidc-*` options).
 * @param {{ binary: string, trustAnchor: string, workDir: string, port?: number, extraArgs?: string[] }} options
 * @returns {Promise<{ origin: string, url: string, log: () => string, close: () => Promise<void> }>}
 */
export async function startDemoSite({ binary, trustAnchor, workDir, port, extraArgs = [] }) {
  const chosenPort = port ?? (await freePort());
  const origin = `https://localhost:${chosenPort}`;
  const server = await startServer(
    "cpx-demo",
    binary,
    ["serve", "--seed-demo-user", "--addr", `127.0.0.1:${chosenPort}`, "--origin", origin,
     "--db", join(workDir, "demo.sqlite"), "--trust-anchor", trustAnchor,
     // The test CA's CRL sits next to it (the site refuses a CA without one); test CAs need the flag.
     "--crl", trustAnchor.replace(/\.der$/, ".crl.der"), "--allow-test-anchors",
     "--page-library", PAGE_LIBRARY, ...extraArgs],
  );
  return { origin, url: `${origin}/`, ...server };
}

/**
 * Starts the OpenID Connect provider `cpx-idp` over HTTPS on `port`, with a certificate of a
 * throw-away CA (scripts/idp-demo-tls.sh, as `make demo`), a signing key made at start
 * (`--demo`), the card's test CA, and one client: the demo site at `siteOrigin`.
 * @param {{ binary: string, trustAnchor: string, workDir: string, port: number, siteOrigin: string }} options
 * @returns {Promise<{ origin: string, caFile: string, clientId: string, secretFile: string, log: () => string, close: () => Promise<void> }>}
 */
export async function startProvider({ binary, trustAnchor, workDir, port, siteOrigin }) {
  const dir = join(workDir, "idp");
  execFileSync("bash", [join(REPO_ROOT, "scripts", "idp-demo-tls.sh"), dir]);
  const origin = `https://localhost:${port}`;
  const clientId = "cpx-demo";
  const secret = randomBytes(32).toString("base64url");
  const secretFile = join(dir, "client-secret");
  writeFileSync(secretFile, secret);
  const text = (/** @type {string} */ value) => JSON.stringify(value); // a TOML basic string
  writeFileSync(
    join(dir, "idp.toml"),
    [
      `issuer = ${text(origin)}`,
      `listen = ${text(`127.0.0.1:${port}`)}`,
      `page_library = ${text(PAGE_LIBRARY)}`,
      "[tls]",
      'certificate = "idp.pem"',
      'key = "idp.key"',
      "[[signing_keys]]",
      'kid = "browser-test-1"',
      'file = "keys/rs256.pem"',
      'algorithm = "RS256"',
      "active = true",
      "[trust]",
      `anchors = [${text(trustAnchor)}]`,
      `crls = [${text(trustAnchor.replace(/\.der$/, ".crl.der"))}]`,
      "allow_test_anchors = true",
      "[[clients]]",
      `client_id = ${text(clientId)}`,
      'name = "Site de démonstration CPx Connect"',
      `secret_sha256 = ${text(createHash("sha256").update(secret).digest("hex"))}`,
      `redirect_uris = [${text(`${siteOrigin}/oidc/retour`)}]`,
      `post_logout_redirect_uris = [${text(`${siteOrigin}/`)}]`,
      'scopes = ["openid", "profile"]',
      "",
    ].join("\n"),
  );
  const server = await startServer("cpx-idp", binary, ["serve", "--demo", "--config", join(dir, "idp.toml")]);
  return { origin, caFile: join(dir, "ca.pem"), clientId, secretFile, ...server };
}

/**
 * @typedef {object} LoggedCard
 * @property {() => number} mark how many APDUs the card has seen so far
 * @property {(since?: number) => string[]} apdus the card's log lines (one per APDU), from `since`
 * @property {() => Promise<void>} remove pulls the card out (resolves once the process is gone)
 */

/**
 * Inserts the virtual CPS3 (`cpx-virtual-card`) in a vpcd slot and keeps its APDU log. The
 * binary prints one line per APDU (`apdu 00 20 00 01 +8 bytes (PIN masked) -> 63C2 +0 bytes`),
 * never the command data. The caller holds the pcscd lock.
 * @param {string} binary
 * @param {{ pin: string, holder?: "dupont" | "martin", port?: number }} options
 * @returns {Promise<LoggedCard>}
 */
export function insertLoggedVirtualCard(binary, { pin, holder = "dupont", port = 35963 }) {
  if (!existsSync(binary)) {
    return Promise.reject(new Error(`${binary} not found: cargo build --bins, or set CPX_VIRTUAL_CARD`));
  }
  return new Promise((resolve, reject) => {
    const card = spawn(binary, ["--port", String(port), "--holder", holder, "--pin", pin, "--until-stdin-closes"], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    /** @type {string[]} */
    const lines = [];
    let pending = "";
    let inserted = false;
    card.stderr.on("data", (chunk) => {
      pending += String(chunk);
      const complete = pending.split("\n");
      pending = complete.pop() ?? "";
      lines.push(...complete);
      if (!inserted && lines.some((line) => line.includes("card inserted"))) {
        inserted = true;
        const apdus = () => lines.filter((line) => line.startsWith("apdu "));
        setTimeout(
          () =>
            resolve({
              mark: () => apdus().length,
              apdus: (since = 0) => apdus().slice(since),
              remove: () =>
                new Promise((done) => {
                  if (card.exitCode !== null) return done();
                  card.once("exit", () => done());
                  card.stdin.end(); // the card process pulls the card out and exits
                }),
            }),
          PCSCD_NOTICE_MS,
        );
      }
    });
    card.on("error", reject);
    card.on("exit", (code) => {
      if (!inserted) reject(new Error(`cpx-virtual-card exited with ${code} before inserting the card:\n${lines.join("\n")}${pending}`));
    });
  });
}

/** @param {string} line an APDU log line @returns {boolean} whether it is a VERIFY (INS 20), with or without data */
export function isVerify(line) {
  return /^apdu [0-9A-F]{2} 20 /.test(line);
}

/** @param {string} line an APDU log line */
export function isVerifyWithPin(line) {
  // VERIFY is INS 20; with data, it carried a PIN (a VERIFY without data only asks the counter).
  return /^apdu [0-9A-F]{2} 20 [0-9A-F]{2} [0-9A-F]{2} \+[1-9]\d* bytes/.test(line);
}

/** @param {string} line an APDU log line @returns {string} its status word, e.g. "63C2" */
export function statusWordOf(line) {
  return line.match(/-> ([0-9A-F]{4}|----)/)?.[1] ?? "";
}

/**
 * A shell wrapper around the real host that appends a line to a file each time a browser starts
 * it, then execs the host unchanged (same arguments, same stdio).
 * @param {string} dir
 * @param {string} hostPath
 * @returns {{ path: string, launches: () => string[] }}
 */
export function recordingHostWrapper(dir, hostPath) {
  const launchLog = join(dir, "host-launches.log");
  const path = join(dir, "cpx-connect-recorded.sh");
  const quote = (/** @type {string} */ text) => `'${text.replaceAll("'", `'"'"'`)}'`;
  writeFileSync(launchLog, "");
  writeFileSync(path, `#!/bin/sh\necho "started with: $*" >> ${quote(launchLog)}\nexec ${quote(hostPath)} "$@"\n`);
  chmodSync(path, 0o755);
  return {
    path,
    launches: () => readFileSync(launchLog, "utf8").split("\n").filter(Boolean),
  };
}

/**
 * One `status` request to the real host, as a browser would send it (native byte order length,
 * then JSON), with a throw-away HOME for its logs.
 * @param {string} hostPath
 * @returns {Promise<{ service: string, readers: { name: string, card: null | { atr: string, type: string } }[] }>}
 */
export function hostStatus(hostPath) {
  const home = mkdtempSync(join(tmpdir(), "cpx-host-status-"));
  return new Promise((resolve, reject) => {
    const host = spawn(hostPath, [], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, HOME: home } });
    const timer = setTimeout(() => {
      host.kill();
      reject(new Error("the host did not answer status within 10 s"));
    }, 10_000);
    let answer = Buffer.alloc(0);
    host.stdout.on("data", (chunk) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length < 4 || answer.length < 4 + answer.readUInt32LE(0)) return;
      clearTimeout(timer);
      host.stdin.end();
      try {
        const response = JSON.parse(answer.subarray(4, 4 + answer.readUInt32LE(0)).toString("utf8"));
        if (response.result) resolve(response.result);
        else reject(new Error(`status failed: ${JSON.stringify(response)}`));
      } catch (error) {
        reject(error);
      }
    });
    host.on("error", reject);
    host.on("exit", () => rmSync(home, { recursive: true, force: true }));
    const body = Buffer.from(JSON.stringify({ id: 1, command: "status" }), "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32LE(body.length); // native byte order on the little-endian machines we run on
    host.stdin.write(Buffer.concat([length, body]));
  });
}

/**
 * @typedef {{ evaluate: <A, R>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R> }} EvaluatingPage
 */

/**
 * Where the page is and what it shows; during a navigation the old document is gone and
 * evaluate fails: that is "not there yet", not an error.
 * @param {EvaluatingPage} page
 */
export async function pageState(page) {
  try {
    return await page.evaluate(() => {
      const status = document.getElementById("card-status");
      return {
        origin: location.origin,
        path: location.pathname,
        ready: document.readyState === "complete",
        heading: document.querySelector("h1")?.textContent?.trim() ?? "",
        main: document.querySelector("main")?.textContent?.replace(/\s+/g, " ").trim() ?? "",
        // The sentence, and apart from it the error code the page shows under it (small).
        status:
          status && !status.hidden
            ? [...status.childNodes]
                .filter((node) => node.nodeType === Node.TEXT_NODE)
                .map((node) => node.textContent)
                .join("")
            : "",
        statusCode: /ERR_[A-Z_]+/.exec(status?.querySelector(".error-code")?.textContent ?? "")?.[0] ?? "",
        statusIsError: Boolean(status?.classList.contains("is-error")),
        reloadMarker: /** @type {any} */ (window).__cpxDemoFlowMarker ?? null,
      };
    });
  } catch {
    return undefined;
  }
}

/**
 * Waits until the page has loaded `path`; the error says where it is instead.
 * @param {EvaluatingPage} page
 * @param {string} path
 * @param {number} [timeout]
 */
export async function waitForPath(page, path, timeout = 30_000) {
  return waitForState(page, (state) => state.path === path && state.ready, `the page to load ${path}`, timeout);
}

/**
 * Waits until the card status line shows an error; resolves to the page state then.
 * @param {EvaluatingPage} page
 * @param {number} [timeout]
 */
export async function waitForCardError(page, timeout = 30_000) {
  return waitForState(page, (state) => state.statusIsError && state.status !== "", "an error in #card-status", timeout);
}

/**
 * @param {EvaluatingPage} page
 * @param {(state: NonNullable<Awaited<ReturnType<typeof pageState>>>) => boolean} done
 * @param {string} what
 * @param {number} timeout
 */
export async function waitForState(page, done, what, timeout) {
  const deadline = Date.now() + timeout;
  /** @type {Awaited<ReturnType<typeof pageState>>} */
  let last;
  while (Date.now() < deadline) {
    last = await pageState(page);
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; the page is at ${JSON.stringify(last)}`);
}

/**
 * Clears the card status line (so an old message is not taken for the answer to this click),
 * marks the document (so a reload would show), and clicks « S'identifier par carte CPS ».
 * @param {EvaluatingPage & { click: (selector: string) => Promise<void> }} page
 * @param {string} marker
 */
export async function clickCardButton(page, marker) {
  await page.evaluate((value) => {
    const status = /** @type {HTMLElement} */ (document.getElementById("card-status"));
    status.classList.remove("is-error");
    status.textContent = "";
    status.hidden = true;
    /** @type {any} */ (window).__cpxDemoFlowMarker = value;
  }, marker);
  await page.click("#card-login-button");
}
