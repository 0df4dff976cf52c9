// Test keys and certificates made with the openssl CLI, once per test process: the HTTPS test
// site's certificate and the fake card holder's key and certificate.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** @type {ReturnType<typeof make> | undefined} */
let cached;

export function fixtures() {
  cached ??= make();
  return cached;
}

function make() {
  const dir = mkdtempSync(join(tmpdir(), "cpx-browser-fixtures-"));
  const openssl = (/** @type {string[]} */ args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", join(dir, "site-key.pem"), "-out", join(dir, "site-cert.pem")]);

  const holders = [
    { name: "holder1", subject: "/C=FR/O=TEST/OU=Médecin/SN=DUPONT/GN=MARIE/CN=810002813839", notAfterDays: 700 },
    { name: "holder2", subject: "/C=FR/O=TEST/OU=Infirmier/SN=MARTIN/GN=PAUL/CN=810009999999", notAfterDays: 20 },
  ].map((holder) => {
    const keyFile = join(dir, `${holder.name}-key.pem`);
    const certFile = join(dir, `${holder.name}-cert.der`);
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", String(holder.notAfterDays), "-utf8",
      "-subj", holder.subject, "-keyout", keyFile, "-outform", "DER", "-out", certFile]);
    const der = readFileSync(certFile);
    return {
      keyFile,
      certificateBase64: der.toString("base64"),
      certificateId: createHash("sha256").update(der).digest("hex").slice(0, 16),
      notAfter: new Date(Date.now() + holder.notAfterDays * 86_400_000).toISOString(),
    };
  });

  return {
    dir,
    site: { key: readFileSync(join(dir, "site-key.pem")), cert: readFileSync(join(dir, "site-cert.pem")) },
    holders,
  };
}
