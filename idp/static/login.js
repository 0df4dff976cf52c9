// « S'identifier par carte CPS » at the provider: gets a challenge bound to this login, asks
// the CPx Connect extension (through its page library) to have the card sign it, posts the
// token, then follows the redirect back to the site. The PIN never enters this page.

const button = document.getElementById("card-login-button");
const statusLine = document.getElementById("card-status");
const csrf = button ? button.dataset.csrf || "" : "";
const lang = button && button.dataset.lang === "en" ? "en" : "fr";

const TEXT = {
  fr: {
    preparing: "Préparation de la connexion…",
    card: "Suivez les instructions de la fenêtre CPx Connect…",
    failed: "La connexion par carte CPS a échoué",
    unreachable: "Le service ne répond pas. Vérifiez votre réseau, puis réessayez.",
    noExtension: "L'extension CPx Connect n'est pas disponible dans ce navigateur.",
  },
  en: {
    preparing: "Preparing the login…",
    card: "Follow the instructions of the CPx Connect window…",
    failed: "The CPS card login failed",
    unreachable: "The service does not answer. Check your network, then try again.",
    noExtension: "The CPx Connect extension is not available in this browser.",
  },
}[lang];

function show(kind, text) {
  if (!statusLine) return;
  statusLine.textContent = text;
  statusLine.classList.toggle("is-error", kind === "error");
  statusLine.hidden = false;
}

const HEADERS = { Accept: "application/json", "X-Requested-With": "cpx-connect", "X-CSRF-Token": csrf };

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

async function cardLogin() {
  let library;
  try {
    library = await import("/static/cpx-connect.js");
  } catch {
    show("error", TEXT.noExtension);
    return;
  }
  show("info", TEXT.preparing);
  let body;
  try {
    const response = await fetch("/login/challenge", { credentials: "same-origin", headers: HEADERS });
    body = await readJson(response);
    if (!response.ok || !body || typeof body.nonce !== "string") {
      show("error", `${TEXT.failed} (${(body && body.error) || response.status}).`);
      return;
    }
  } catch {
    show("error", TEXT.unreachable);
    return;
  }
  let token;
  try {
    show("info", TEXT.card);
    token = await library.authenticate(body.nonce, { lang });
  } catch (error) {
    show("error", `${TEXT.failed} (${(error && error.code) || "ERR_UNKNOWN"}).`);
    return;
  }
  try {
    const response = await fetch("/login/card", {
      method: "POST",
      credentials: "same-origin",
      headers: { ...HEADERS, "Content-Type": "application/json" },
      body: JSON.stringify(token),
    });
    const result = await readJson(response);
    if (response.ok && result && typeof result.redirect === "string") {
      window.location.assign(result.redirect);
      return;
    }
    show("error", `${TEXT.failed} (${(result && result.error) || response.status}).`);
  } catch {
    show("error", TEXT.unreachable);
  }
}

if (button) button.addEventListener("click", () => void cardLogin());
