#!/usr/bin/env node
// A hospital's web server for the release folder, as tests/release/run.sh needs it: every file
// under ROOT by its path, over HTTPS with the given certificate, on 127.0.0.1:PORT. Logs each
// request (method, path, status) on stdout so the test can see who fetched what.
//   node tests/release/serve.mjs ROOT PORT CERT.pem KEY.pem
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:https";
import { join, normalize, sep } from "node:path";

const [root, port, cert, key] = process.argv.slice(2);
if (!root || !port || !cert || !key) {
  console.error("usage: serve.mjs ROOT PORT CERT.pem KEY.pem");
  process.exit(2);
}
const types = {
  ".xml": "text/xml",
  ".crx": "application/x-chrome-extension",
  ".xpi": "application/x-xpinstall",
  ".deb": "application/vnd.debian.binary-package",
  ".msi": "application/x-msi",
};
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (request, response) => {
  let status = 404;
  try {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "https://localhost").pathname));
    const file = join(root, path);
    if (file.startsWith(root + sep) && statSync(file).isFile()) {
      const type = Object.entries(types).find(([extension]) => file.endsWith(extension))?.[1] ?? "application/octet-stream";
      const body = readFileSync(file);
      status = 200;
      response.writeHead(200, { "content-type": type, "content-length": body.length });
      response.end(request.method === "HEAD" ? undefined : body);
    } else {
      response.writeHead(404).end();
    }
  } catch {
    response.writeHead(404).end();
  }
  console.log(`${request.method} ${request.url} ${status}`);
});
server.listen(Number(port), "127.0.0.1", () => console.log(`serving ${root} on https://localhost:${port}/`));
