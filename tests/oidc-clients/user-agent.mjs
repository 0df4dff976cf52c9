// The user agent as a command, for client libraries in other languages (authlib_client.py):
//   node user-agent.mjs AUTHORIZATION_URL REDIRECT_URI
// with CPX_OIDC_CA (the CA's PEM file), CPX_CONNECT_HOST and CPX_OIDC_PIN; prints the callback URL.

import { readFileSync } from "node:fs";
import { cardLogin } from "./lib/user-agent.mjs";

const [authorizationUrl, redirectUri] = process.argv.slice(2);
const { CPX_OIDC_CA: caFile, CPX_CONNECT_HOST: hostBinary, CPX_OIDC_PIN: pin } = process.env;
if (!authorizationUrl || !redirectUri || !caFile || !hostBinary || !pin) {
  console.error("usage: CPX_OIDC_CA=ca.pem CPX_CONNECT_HOST=cpx-connect CPX_OIDC_PIN=1234 node user-agent.mjs AUTHORIZATION_URL REDIRECT_URI");
  process.exit(2);
}
try {
  const callback = await cardLogin({ authorizationUrl, redirectUri, ca: readFileSync(caFile, "utf8"), hostBinary, pin });
  process.stdout.write(`${callback}\n`);
} catch (error) {
  console.error(`user-agent: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
