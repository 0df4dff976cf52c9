// "S'identifier par carte CPS": gets a challenge from this site, asks the CPx Connect
// extension (through its page library) to have the card sign it, and hands the token to
// this site. Every failure is shown in French in the status line, without a reload.

const button = document.getElementById("card-login-button");
const statusLine = document.getElementById("card-status");
const messagesElement = document.getElementById("cpx-messages");

/** @type {Record<string, string>} French messages by error code, rendered by the server. */
let messages = {};
try {
  messages = JSON.parse(messagesElement ? messagesElement.textContent : "{}");
} catch {
  messages = {};
}

const FALLBACK =
  messages.fallback ||
  "La connexion par carte CPS a échoué. Réessayez ; si le problème persiste, contactez votre service informatique.";
const SERVER_UNREACHABLE =
  "Le serveur ne répond pas. Vérifiez votre connexion au réseau, puis réessayez.";

/** @param {"info" | "error"} kind @param {string} text */
function show(kind, text) {
  if (!statusLine) return;
  statusLine.textContent = text;
  statusLine.classList.toggle("is-error", kind === "error");
  statusLine.hidden = false;
}

/** The French message for an error from the page library. */
function messageFor(error) {
  const code = error && typeof error.code === "string" ? error.code : "";
  let text = messages[code] || FALLBACK;
  const details = (error && error.details) || error || {};
  if (code === "ERR_PIN_INCORRECT" && typeof details.retriesLeft === "number") {
    const left = details.retriesLeft;
    text += left === 1 ? " Il vous reste 1 essai." : ` Il vous reste ${left} essais.`;
  }
  return text;
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

async function cardLogin() {
  const library = await loadPageLibrary();
  if (!library) {
    show("error", messages.ERR_EXTENSION_UNAVAILABLE || FALLBACK);
    return;
  }

  show("info", "Préparation de la connexion…");
  let nonceResponse;
  try {
    nonceResponse = await fetch("/api/nonce", {
      credentials: "same-origin",
      // The header another site cannot send on a navigation or a form (see web.rs).
      headers: { Accept: "application/json", "X-Requested-With": "cpx-connect" },
    });
  } catch {
    show("error", SERVER_UNREACHABLE);
    return;
  }
  const nonceBody = await readJson(nonceResponse);
  if (!nonceResponse.ok || !nonceBody || typeof nonceBody.nonce !== "string") {
    show("error", (nonceBody && nonceBody.message) || SERVER_UNREACHABLE);
    return;
  }

  show("info", "Saisissez votre code porteur dans la fenêtre CPx Connect qui s'ouvre…");
  let token;
  try {
    token = await library.authenticate(nonceBody.nonce, { lang: "fr" });
  } catch (error) {
    show("error", messageFor(error));
    return;
  }

  show("info", "Vérification de votre carte…");
  let loginResponse;
  try {
    loginResponse = await fetch("/api/login/card", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(token),
    });
  } catch {
    show("error", SERVER_UNREACHABLE);
    return;
  }
  const result = await readJson(loginResponse);
  if (loginResponse.ok && result && typeof result.redirect === "string" && result.redirect.startsWith("/")) {
    show("info", "Carte vérifiée. Redirection…");
    window.location.assign(result.redirect);
    return;
  }
  show("error", (result && result.message) || FALLBACK);
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
      show("error", messages.ERR_EXTENSION_UNAVAILABLE || FALLBACK);
      return;
    }
    if (typeof library.status !== "function") return;
    try {
      await library.status();
    } catch (error) {
      const code = error && error.code;
      if (code === "ERR_EXTENSION_UNAVAILABLE" || code === "ERR_HOST_NOT_INSTALLED" || code === "ERR_INSECURE_CONTEXT") {
        show("error", messageFor(error));
      }
    }
  });
}
