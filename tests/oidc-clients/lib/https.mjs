// HTTPS requests that trust the run's throw-away CA only, never following redirects: the
// user agent reads each step itself, and openid-client gets the same as its `customFetch`.

import { request } from "node:https";

/**
 * @param {string} ca PEM of the throw-away CA
 * @returns {(url: string | URL, init?: { method?: string, headers?: any, body?: any, redirect?: string, signal?: AbortSignal }) => Promise<Response>}
 */
export function fetchTrusting(ca) {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const headers = new Headers(init.headers ?? {});
      const body = init.body === undefined || init.body === null ? undefined : Buffer.from(String(init.body));
      if (body) headers.set("content-length", String(body.length));
      const outgoing = request(
        new URL(String(url)),
        { method: init.method ?? "GET", headers: Object.fromEntries(headers), ca, signal: init.signal },
        (incoming) => {
          const chunks = [];
          incoming.on("data", (chunk) => chunks.push(chunk));
          incoming.on("error", reject);
          incoming.on("end", () => {
            const answerHeaders = new Headers();
            for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
              answerHeaders.append(incoming.rawHeaders[i], incoming.rawHeaders[i + 1]);
            }
            const status = incoming.statusCode ?? 0;
            const content = Buffer.concat(chunks);
            // A Response cannot carry a body with these statuses.
            const bodyless = [101, 204, 205, 304].includes(status);
            resolve(new Response(bodyless ? null : content, { status, headers: answerHeaders }));
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
}
