// A served `cpx-idp` for the client libraries: HTTPS on a free loopback port with a throw-away CA
// made for this run (openssl), its own RS256 signing key (and an older ES256 one, in the JWKS
// for rotation only), the virtual card's test CA as trust anchor, and one client per library.

import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "../../lib/free-port.mjs";
import { startServer } from "../../lib/server.mjs";

/** The throw-away CA and the provider's certificate for localhost, valid one day. */
function makeTlsFiles(/** @type {string} */ dir) {
  const openssl = (/** @type {string[]} */ args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "1", "-subj", "/CN=cpx-idp oidc-clients test CA",
    "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "tls.key",
    "-out", "tls.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "tls.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n");
  openssl(["x509", "-req", "-in", "tls.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
    "-extfile", "tls.ext", "-out", "tls.pem"]);
}

/**
 * @typedef {{ clientId: string, redirectUri: string, secret?: string, jwks?: object }} ClientEntry
 * @param {{ binary: string, repoRoot: string, clients: ClientEntry[] }} options
 */
export async function startProvider({ binary, repoRoot, clients }) {
  const dir = mkdtempSync(join(tmpdir(), "cpx-oidc-idp-"));
  makeTlsFiles(dir);
  const pkcs8 = { format: "pem", type: "pkcs8" };
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "rs.pem"), rsa.privateKey.export(/** @type {any} */ (pkcs8)));
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, "es-old.pem"), ec.privateKey.export(/** @type {any} */ (pkcs8)));
  const fixtures = join(repoRoot, "tests", "virtual-card", "fixtures");

  const port = await freePort();
  const issuer = `https://localhost:${port}`;
  const clientEntries = clients.map((client) => {
    const credentials = client.jwks
      ? (writeFileSync(join(dir, `${client.clientId}.jwks.json`), JSON.stringify(client.jwks)),
        `jwks_file = "${client.clientId}.jwks.json"`)
      : `secret_sha256 = "${createHash("sha256").update(client.secret ?? "").digest("hex")}"`;
    return `
[[clients]]
client_id = "${client.clientId}"
${credentials}
redirect_uris = ["${client.redirectUri}"]
scopes = ["openid", "profile"]
`;
  });
  writeFileSync(
    join(dir, "idp.toml"),
    `issuer = "${issuer}"
listen = "127.0.0.1:${port}"
page_library = ${JSON.stringify(join(repoRoot, "extension", "page", "cpx-connect.js"))}

[tls]
certificate = "tls.pem"
key = "tls.key"

[[signing_keys]]
kid = "rs-1"
file = "rs.pem"
algorithm = "RS256"
active = true

[[signing_keys]]
kid = "es-old"
file = "es-old.pem"
algorithm = "ES256"
active = false

[trust]
anchors = [${JSON.stringify(join(fixtures, "test-ca.der"))}]
crls = [${JSON.stringify(join(fixtures, "test-ca.crl.der"))}]
allow_test_anchors = true
${clientEntries.join("")}`,
  );

  const idp = await startServer("cpx-idp", binary, ["serve", "--config", join(dir, "idp.toml")]);
  return {
    issuer,
    caFile: join(dir, "ca.pem"),
    ca: readFileSync(join(dir, "ca.pem"), "utf8"),
    log: idp.log,
    close: async () => {
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
