// The card button's page script, served by both relying-party services (cpx-demo, cpx-idp;
// see cpx_web::messages::CARD_LOGIN_SCRIPT): gets a challenge from this site, asks the CPx Connect
// extension (through its page library) to have the card sign it, hands the token to this
// site, then follows the redirect it answers. Every failure is shown in the status line,
// without a reload, as a sentence with its code (small, for the help desk). The PIN never
// enters this page.
//
// What differs between the services comes from the button's data attributes:
//   data-challenge-url  GET, answers {nonce}                        (required)
//   data-login-url      POST of the token, answers {redirect}       (required)
//   data-lang           "fr" (default) or "en": the page library's language
//   data-csrf           sent as X-CSRF-Token, when the site wants it
//   data-redirect       "same-site" (default: a path of this site) or "site-answer" (any
//                       https/http URL the server answered: the provider's way back to a site)
// and the sentences from the JSON in <script id="cpx-messages"> (cpx_web::messages::page_table).

const button = document.getElementById("card-login-button");
const statusLine = document.getElementById("card-status");
const messagesElement = document.getElementById("cpx-messages");

/** @type {Record<string, string>} Sentences by error code and step texts, rendered by the server. */
let messages = {};
try {
  messages = JSON.parse(messagesElement ? messagesElement.textContent : "{}") || {};
} catch {
  messages = {};
}

const settings = button ? button.dataset : {};
const lang = settings.lang === "en" ? "en" : "fr";
const FALLBACK = messages.fallback || "La connexion par carte CPS a échoué. / The CPS card login failed.";
const UNREACHABLE = messages.unreachable || FALLBACK;

/** @param {"info" | "error"} kind @param {string} text @param {string} [code] */
function show(kind, text, code) {
  if (!statusLine) return;
  statusLine.replaceChildren(document.createTextNode(text));
  if (code) {
    const small = document.createElement("small");
    small.className = "error-code";
    small.textContent = ` ${messages.codeLabel || "Code:"} ${code}`;
    statusLine.append(small);
  }
  statusLine.classList.toggle("is-error", kind === "error");
  statusLine.hidden = false;
}

/** The sentence for an error from the page library, with the PIN tries left. */
function showLibraryError(error) {
  const code = error && typeof error.code === "string" ? error.code : "";
  let text = messages[code] || FALLBACK;
  const details = (error && error.details) || error || {};
  if (code === "ERR_PIN_INCORRECT" && typeof details.retriesLeft === "number") {
    const left = details.retriesLeft;
    const tries = left === 1 ? messages.retriesOne : (messages.retriesMany || "").replace("{n}", String(left));
    if (tries) text += ` ${tries}`;
  }
  show("error", text, code || undefined);
}

/** A failure the site answered: its own sentence if it gave one, else the table's. */
function showServerError(body) {
  const code = body && typeof (body.code || body.error) === "string" ? body.code || body.error : "";
  const text = (body && typeof body.message === "string" && body.message) || messages[code] || UNREACHABLE;
  show("error", text, code || undefined);
}

/** Where the server's answer may send the browser, or null. */
function allowedRedirect(target) {
  if (typeof target !== "string") return null;
  if (settings.redirect === "site-answer") {
    try {
      const url = new URL(target, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }
  return target.startsWith("/") && !target.startsWith("//") ? target : null;
}

/** The page library, or null when this site could not serve it. */
async function loadPageLibrary() {
  try {
    const library = await import("/static/cpx-connect.js");
    return typeof library.authenticate === "function" ? library : null;
  } catch {
    return null;
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function requestHeaders() {
  // X-Requested-With: the header another site cannot send on a navigation or a form.
  const headers = { Accept: "application/json", "X-Requested-With": "cpx-connect" };
  if (settings.csrf) headers["X-CSRF-Token"] = settings.csrf;
  return headers;
}

async function cardLogin() {
  const library = await loadPageLibrary();
  if (!library) {
    show("error", messages.ERR_EXTENSION_UNAVAILABLE || FALLBACK, "ERR_EXTENSION_UNAVAILABLE");
    return;
  }

  show("info", messages.preparing || "…");
  let challengeResponse;
  try {
    challengeResponse = await fetch(settings.challengeUrl, { credentials: "same-origin", headers: requestHeaders() });
  } catch {
    show("error", UNREACHABLE);
    return;
  }
  const challenge = await readJson(challengeResponse);
  if (!challengeResponse.ok || !challenge || typeof challenge.nonce !== "string") {
    showServerError(challenge);
    return;
  }

  show("info", messages.pin || "…");
  let token;
  try {
    token = await library.authenticate(challenge.nonce, { lang });
  } catch (error) {
    showLibraryError(error);
    return;
  }

  show("info", messages.checking || "…");
  let loginResponse;
  try {
    loginResponse = await fetch(settings.loginUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...requestHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify(token),
    });
  } catch {
    show("error", UNREACHABLE);
    return;
  }
  const result = await readJson(loginResponse);
  const target = loginResponse.ok && result ? allowedRedirect(result.redirect) : null;
  if (target) {
    show("info", messages.redirecting || "…");
    window.location.assign(target);
    return;
  }
  showServerError(result);
}

if (button) {
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await cardLogin();
    } catch {
      show("error", FALLBACK);
    } finally {
      button.disabled = false;
    }
  });

  // Say at once when the extension or its host is missing, rather than after a click.
  loadPageLibrary().then(async (library) => {
    if (!library) {
      show("error", messages.ERR_EXTENSION_UNAVAILABLE || FALLBACK, "ERR_EXTENSION_UNAVAILABLE");
      return;
    }
    if (typeof library.status !== "function") return;
    try {
      await library.status();
    } catch (error) {
      const code = error && error.code;
      if (code === "ERR_EXTENSION_UNAVAILABLE" || code === "ERR_HOST_NOT_INSTALLED" || code === "ERR_INSECURE_CONTEXT") {
        showLibraryError(error);
      }
    }
  });
}
