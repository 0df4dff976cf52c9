// A tiny HTTPS relying party for the tests: a page that loads the page library the way a real
// site does (/static/cpx-connect.js).

import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:https";
import { fixtures } from "./fixtures.mjs";
import { PAGE_LIBRARY } from "./paths.mjs";

const PAGE = `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Site de test CPx Connect</title></head>
<body>
<main>
<h1>Site de test</h1>
<button id="login" type="button">S'identifier par carte CPS</button>
<p id="result" role="status"></p>
</main>
<script type="module">
  // A site loads the library from its own origin; the tests drive it through lib/page-driver.mjs,
  // or with the keyboard through this button. "?autologin" asks at load, with no user gesture.
  import { authenticate, status } from "/static/cpx-connect.js";
  const nonce = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const run = () => {
    window.__cpxLogin = authenticate(nonce()).then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, code: error.code, message: error.message }),
    );
    window.__cpxLogin.then((outcome) => { document.getElementById("result").textContent = outcome.ok ? "ok" : outcome.code; });
  };
  document.getElementById("login").addEventListener("click", run);
  if (new URLSearchParams(location.search).has("autologin")) run();
  // "?autostatus": status() at load, with no user gesture.
  if (new URLSearchParams(location.search).has("autostatus")) {
    window.__cpxStatus = status().then((value) => ({ ok: true, value }), (error) => ({ ok: false, code: error.code, message: error.message }));
  }
</script>
</body></html>`;

/**
 * @param {{ insecure?: boolean }} [options] `insecure`: plain http on localhost, for the
 *   insecure-context checks
 * @returns {Promise<{ url: string, origin: string, close: () => Promise<void> }>}
 */
export async function startTestSite({ insecure = false } = {}) {
  const { site } = fixtures();
  /** @type {import("node:http").RequestListener} */
  const handler = (request, response) => {
    const path = new URL(request.url ?? "/", "https://localhost").pathname;
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
    } else if (path === "/sandboxed") {
      // The same page as a sandboxed document: scripts run, but its origin is opaque ("null").
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": "sandbox allow-scripts" });
      response.end(PAGE);
    } else if (path === "/static/cpx-connect.js") {
      // Readable from an opaque origin too (a module script is fetched in CORS mode).
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "access-control-allow-origin": "*" });
      response.end(readFileSync(PAGE_LIBRARY));
    } else {
      response.writeHead(404).end();
    }
  };
  const server = insecure ? createHttpServer(handler) : createServer({ key: site.key, cert: site.cert }, handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const origin = `${insecure ? "http" : "https"}://localhost:${port}`;
  return {
    url: `${origin}/`,
    origin,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
