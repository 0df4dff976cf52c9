#!/usr/bin/env node
// A throw-away RFC 3161 timestamp server for the signing test (tests/windows/run.sh): each POSTed
// TimeStampReq is answered by `openssl ts -reply` with the test TSA's key, over plain HTTP on
// 127.0.0.1 (as most public TSAs serve it). The test has no network, so no real TSA.
//   node tests/windows/timestamp-server.mjs CONFIG PORT_FILE
// CONFIG is an openssl ts configuration (tests/lib/code-signing.sh writes it); the port the
// kernel chose is written to PORT_FILE once the server listens. Logs one line per request.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [config, portFile] = process.argv.slice(2);
if (!config || !portFile) {
  console.error("usage: timestamp-server.mjs CONFIG PORT_FILE");
  process.exit(2);
}
const scratch = mkdtempSync(join(tmpdir(), "tsa-"));
const server = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const query = join(scratch, "query.tsq");
    const reply = join(scratch, "reply.tsr");
    try {
      writeFileSync(query, Buffer.concat(chunks));
      execFileSync("openssl", ["ts", "-reply", "-config", config, "-queryfile", query, "-out", reply], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      const body = readFileSync(reply);
      response.writeHead(200, { "content-type": "application/timestamp-reply", "content-length": body.length });
      response.end(body);
      console.log(`${request.method} ${request.url} 200`);
    } catch (error) {
      response.writeHead(500);
      response.end();
      console.log(`${request.method} ${request.url} 500 ${error.stderr ?? error}`);
    }
  });
});
server.listen(0, "127.0.0.1", () => writeFileSync(portFile, `${server.address().port}\n`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    rmSync(scratch, { recursive: true, force: true });
    process.exit(0);
  });
}
