// A TCP port for a test server, shared by every Node test folder (tests/browser,
// tests/oidc-clients, the page-script tests of demo/ and idp/).

import { createServer } from "node:net";

/** @returns {Promise<number>} a TCP port nobody listens on right now */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
