// The browser's part of a login at cpx-idp, written once for every client library: from the
// authorization URL the library built to the callback URL it must check. It keeps the
// provider's cookies, reads the login page's CSRF token, asks for the challenge, has the real
// host sign it with the card in vpcd, posts the token as static/login.js does, and stops at the
// redirect to the site's redirect_uri (the site is the library: nothing listens there).

import { authenticateWithCard } from "./host.mjs";
import { fetchTrusting } from "./https.mjs";

const MAX_REDIRECTS = 5;

/**
 * @param {{ authorizationUrl: string, redirectUri: string, ca: string, hostBinary: string, pin: string }} options
 * @returns {Promise<string>} the callback URL, with `code`, `state` and `iss`
 */
export async function cardLogin({ authorizationUrl, redirectUri, ca, hostBinary, pin }) {
  const fetch = fetchTrusting(ca);
  const issuerOrigin = new URL(authorizationUrl).origin;
  /** @type {Map<string, string>} */
  const jar = new Map();
  const keepCookies = (/** @type {Response} */ response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  };
  const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  const send = async (/** @type {string} */ url, /** @type {any} */ init = {}) => {
    const response = await fetch(url, { ...init, headers: { ...init.headers, cookie: cookieHeader() } });
    keepCookies(response);
    return response;
  };

  // /authorize, then the provider's own redirects (to /login) until the login page.
  let url = authorizationUrl;
  let page;
  for (let hops = 0; ; hops++) {
    const response = await send(url, { headers: { accept: "text/html", "accept-language": "fr" } });
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url).href;
      if (url.startsWith(redirectUri)) return url; // an error sent back to the site, or a session
      if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${authorizationUrl}`);
      continue;
    }
    page = await response.text();
    if (response.status !== 200) throw new Error(`${url}: ${response.status}\n${page}`);
    break;
  }
  const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error(`no CSRF token on the login page ${url}`);

  // What the login script sends: the same origin, its header and the page's CSRF token.
  const scriptHeaders = { accept: "application/json", "x-requested-with": "cpx-connect", "x-csrf-token": csrf };
  const challengeResponse = await send(`${issuerOrigin}/login/challenge`, { headers: scriptHeaders });
  const challenge = await challengeResponse.json();
  if (!challengeResponse.ok || typeof challenge.nonce !== "string") {
    throw new Error(`challenge: ${challengeResponse.status} ${JSON.stringify(challenge)}`);
  }
  const token = await authenticateWithCard(hostBinary, { origin: issuerOrigin, challengeNonce: challenge.nonce, pin });
  const cardResponse = await send(`${issuerOrigin}/login/card`, {
    method: "POST",
    headers: { ...scriptHeaders, origin: issuerOrigin, "content-type": "application/json" },
    body: JSON.stringify(token),
  });
  const result = await cardResponse.json();
  if (!cardResponse.ok || typeof result.redirect !== "string") {
    throw new Error(`card login: ${cardResponse.status} ${JSON.stringify(result)}`);
  }
  if (!result.redirect.startsWith(redirectUri)) {
    throw new Error(`the provider sent the browser to ${result.redirect}, not to ${redirectUri}`);
  }
  return result.redirect;
}
