// Sends native messaging requests to a host command and prints each answer as one JSON line:
//   node tests/windows/frames.mjs '<request json>'... -- <command> [arguments]
// Frames are a native-endian (little-endian on every platform we build for) 4-byte length and
// UTF-8 JSON, as browsers send them.
import { spawn } from "node:child_process";

const separator = process.argv.indexOf("--");
if (separator < 0 || separator === process.argv.length - 1) {
  console.error("usage: frames.mjs REQUEST... -- COMMAND [ARGUMENT...]");
  process.exit(2);
}
const requests = process.argv.slice(2, separator);
const [command, ...args] = process.argv.slice(separator + 1);
const host = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
for (const request of requests) {
  const body = Buffer.from(request, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  host.stdin.write(Buffer.concat([length, body]));
}
host.stdin.end();
let pending = Buffer.alloc(0);
host.stdout.on("data", (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
    const size = pending.readUInt32LE(0);
    console.log(pending.subarray(4, 4 + size).toString("utf8"));
    pending = pending.subarray(4 + size);
  }
});
host.on("close", (code) => process.exit(code ?? 1));
