//! What the holder reads when a card login goes wrong, one sentence per error code, in French
//! and English: the one table both relying-party services (`cpx-demo`, French only, and
//! `cpx-idp`, which picks by `Accept-Language`) show.
//!
//! Two tables: the codes the browser side can report (native host and extension, shown by
//! the page script `static/card-login.js` without a reload; the page gets the table as JSON,
//! [`page_table`]) and the codes of the server-side checks (`cpx-verify`'s
//! `VerifyError::code()` and the services' own), which the servers answer with.

use serde_json::{Map, Value};

/// One error's sentence in each language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub code: &'static str,
    pub fr: &'static str,
    pub en: &'static str,
}

/// The pages' two languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    French,
    English,
}

impl Message {
    pub fn text(&self, language: Language) -> &'static str {
        match language {
            Language::French => self.fr,
            Language::English => self.en,
        }
    }
}

/// Codes the page library can reject `authenticate()`/`status()` with: the extension's and
/// the native host's (host/tests/error_codes.rs checks every host code is here).
pub const BROWSER_MESSAGES: &[Message] = &[
    // The extension's own codes.
    Message {
        code: "ERR_EXTENSION_UNAVAILABLE",
        fr: "L'extension CPx Connect n'est pas disponible dans ce navigateur. Installez-la (ou demandez-la à votre service informatique), puis rechargez la page.",
        en: "The CPx Connect extension is not available in this browser. Install it (or ask your IT department for it), then reload the page.",
    },
    Message {
        code: "ERR_HOST_NOT_INSTALLED",
        fr: "Le module CPx Connect n'est pas installé sur ce poste. Installez-le (ou demandez-le à votre service informatique), puis réessayez.",
        en: "The CPx Connect module is not installed on this computer. Install it (or ask your IT department for it), then try again.",
    },
    Message {
        code: "ERR_HOST_INCOMPATIBLE",
        fr: "Le module CPx Connect installé sur ce poste n'est pas compatible avec l'extension. Mettez-les à jour, puis réessayez.",
        en: "The CPx Connect module installed on this computer does not match the extension. Update both, then try again.",
    },
    Message {
        code: "ERR_HOST_CRASHED",
        fr: "Le module CPx Connect s'est arrêté de façon inattendue. Réessayez ; si le problème persiste, contactez votre service informatique.",
        en: "The CPx Connect module stopped unexpectedly. Try again; if the problem persists, contact your IT department.",
    },
    Message {
        code: "ERR_USER_CANCELLED",
        fr: "Connexion annulée. Vous pouvez réessayer quand vous le souhaitez.",
        en: "Login cancelled. You can try again whenever you wish.",
    },
    Message {
        code: "ERR_PIN_TIMEOUT",
        fr: "Le code porteur n'a pas été saisi à temps. Cliquez à nouveau sur « S'identifier par carte CPS ».",
        en: "The PIN was not entered in time. Click « Log in with CPS card » again.",
    },
    Message {
        code: "ERR_TIMEOUT",
        fr: "Le lecteur ou la carte n'a pas répondu à temps. Vérifiez que la carte est bien insérée, puis réessayez.",
        en: "The reader or the card did not answer in time. Check that the card is properly inserted, then try again.",
    },
    Message {
        code: "ERR_ORIGIN_NOT_ALLOWED",
        fr: "La connexion par carte CPS n'est pas autorisée pour ce site sur ce poste. Contactez votre service informatique.",
        en: "CPS card login is not allowed for this site on this computer. Contact your IT department.",
    },
    Message {
        code: "ERR_INSECURE_CONTEXT",
        fr: "La connexion par carte CPS n'est possible que sur une page sécurisée (https).",
        en: "CPS card login only works on a secure (https) page.",
    },
    Message {
        code: "ERR_BUSY",
        fr: "Une connexion par carte est déjà en cours dans cet onglet. Terminez-la ou patientez quelques secondes.",
        en: "A card login is already under way in this tab. Finish it or wait a few seconds.",
    },
    Message {
        code: "ERR_USER_ACTIVATION_REQUIRED",
        fr: "La connexion par carte ne démarre que d'un clic sur cette page, dans l'onglet affiché. Cliquez sur « S'identifier par carte CPS ».",
        en: "Card login only starts from a click on this page, in the tab shown. Click « Log in with CPS card ».",
    },
    // The native host's codes, passed on by the extension.
    Message {
        code: "ERR_PCSC_UNAVAILABLE",
        fr: "Le service de cartes à puce de ce poste ne répond pas. Vérifiez que le lecteur est branché ; si le problème persiste, contactez votre service informatique.",
        en: "This computer's smart card service does not answer. Check that the reader is plugged in; if the problem persists, contact your IT department.",
    },
    Message {
        code: "ERR_NO_READER",
        fr: "Aucun lecteur de carte détecté. Branchez votre lecteur de carte CPS, puis réessayez.",
        en: "No card reader found. Plug in your CPS card reader, then try again.",
    },
    Message {
        code: "ERR_NO_CARD",
        fr: "Aucune carte détectée. Insérez votre carte CPS dans le lecteur.",
        en: "No card found. Insert your CPS card in the reader.",
    },
    Message {
        code: "ERR_CARD_UNSUPPORTED",
        fr: "La carte n'est pas utilisable pour se connecter. Insérez votre carte CPS (CPS3 ou CPS4) dans la fente à contact du lecteur : posée sur la zone sans contact, elle ne peut pas servir.",
        en: "This card cannot be used to log in. Insert your CPS card (CPS3 or CPS4) in the reader's contact slot: laid on the contactless area, it cannot be used.",
    },
    Message {
        code: "ERR_CERTIFICATE_NOT_FOUND",
        fr: "Le certificat d'authentification de la carte est introuvable. La carte a peut-être été changée : réessayez.",
        en: "The card's authentication certificate cannot be found. The card may have been changed: try again.",
    },
    Message {
        code: "ERR_CARD_REMOVED",
        fr: "La carte a été retirée pendant l'opération. Réinsérez-la, puis réessayez.",
        en: "The card was removed during the operation. Insert it again, then try again.",
    },
    Message {
        code: "ERR_PIN_REQUIRED",
        fr: "Le code porteur de votre carte est nécessaire pour vous connecter.",
        en: "Your card's PIN is needed to log in.",
    },
    Message {
        code: "ERR_PIN_FORMAT",
        fr: "Le code porteur saisi n'a pas le bon format : il se compose de 4 chiffres.",
        en: "The PIN entered does not have the right format: it is 4 digits.",
    },
    Message {
        code: "ERR_PIN_INCORRECT",
        fr: "Code porteur incorrect. Attention : après trois erreurs, la carte est bloquée.",
        en: "Incorrect PIN. Beware: after three wrong PINs, the card is blocked.",
    },
    Message {
        code: "ERR_PIN_BLOCKED",
        fr: "Votre carte est bloquée après trop de codes porteur erronés. Débloquez-la avec votre code de déblocage ou contactez l'Agence du Numérique en Santé.",
        en: "Your card is blocked after too many wrong PINs. Unblock it with your unblocking code or contact the Agence du Numérique en Santé.",
    },
    Message {
        code: "ERR_CARD_ERROR",
        fr: "La carte a signalé une erreur. Retirez-la, réinsérez-la, puis réessayez.",
        en: "The card reported an error. Remove it, insert it again, then try again.",
    },
    Message {
        code: "ERR_ORIGIN_INVALID",
        fr: "L'adresse de ce site n'a pas été acceptée par le module CPx Connect.",
        en: "The CPx Connect module did not accept this site's address.",
    },
    Message {
        code: "ERR_NONCE_INVALID",
        fr: "Le défi de connexion envoyé par le site n'est pas valide. Rechargez la page, puis réessayez.",
        en: "The login challenge sent by the site is not valid. Reload the page, then try again.",
    },
    Message {
        code: "ERR_INVALID_REQUEST",
        fr: "La demande de connexion n'a pas pu être traitée. Rechargez la page, puis réessayez.",
        en: "The login request could not be processed. Reload the page, then try again.",
    },
    Message {
        code: "ERR_UNKNOWN_COMMAND",
        fr: "Le module CPx Connect installé sur ce poste est trop ancien. Mettez-le à jour.",
        en: "The CPx Connect module installed on this computer is too old. Update it.",
    },
    Message {
        code: "ERR_INTERNAL",
        fr: "Une erreur interne est survenue dans CPx Connect. Réessayez ; si le problème persiste, contactez votre service informatique.",
        en: "An internal error occurred in CPx Connect. Try again; if the problem persists, contact your IT department.",
    },
];

/// Shown for a browser-side code missing from the table (a newer extension, say).
pub const BROWSER_FALLBACK: Message = Message {
    code: "ERR_UNKNOWN",
    fr: "La connexion par carte CPS a échoué. Réessayez ; si le problème persiste, contactez votre service informatique.",
    en: "The CPS card login failed. Try again; if the problem persists, contact your IT department.",
};

/// Codes of the server-side checks: `cpx-verify`'s `VerifyError::code()`, its nonce errors,
/// and the services' own (origin, session, linking, the provider's login transaction).
pub const SERVER_MESSAGES: &[Message] = &[
    // The token itself (cpx-verify).
    Message {
        code: "ERR_TOKEN_MALFORMED",
        fr: "La réponse de la carte est illisible. Réessayez ; si le problème persiste, mettez à jour CPx Connect.",
        en: "The card's answer cannot be read. Try again; if the problem persists, update CPx Connect.",
    },
    Message {
        code: "ERR_TOKEN_TOO_LARGE",
        fr: "La réponse de la carte est trop volumineuse pour être acceptée.",
        en: "The card's answer is too large to be accepted.",
    },
    Message {
        code: "ERR_TOKEN_FORMAT_UNSUPPORTED",
        fr: "Le format de la réponse de la carte n'est pas pris en charge par ce site. Mettez à jour CPx Connect.",
        en: "This site does not support the format of the card's answer. Update CPx Connect.",
    },
    Message {
        code: "ERR_ALGORITHM_UNSUPPORTED",
        fr: "L'algorithme de signature de la carte n'est pas pris en charge par ce site.",
        en: "This site does not support the card's signature algorithm.",
    },
    Message {
        code: "ERR_ALGORITHM_KEY_MISMATCH",
        fr: "L'algorithme de signature annoncé ne correspond pas à la clé de la carte.",
        en: "The signature algorithm announced does not match the card's key.",
    },
    Message {
        code: "ERR_SIGNATURE_INVALID",
        fr: "La signature de la carte ne correspond pas à la demande de ce site. Rechargez la page, puis réessayez.",
        en: "The card's signature does not match this site's request. Reload the page, then try again.",
    },
    // The certificate (cpx-verify).
    Message {
        code: "ERR_CERTIFICATE_EXPIRED",
        fr: "Le certificat de votre carte CPS a expiré. Utilisez votre nouvelle carte ou demandez-en une auprès de l'Agence du Numérique en Santé.",
        en: "Your CPS card's certificate has expired. Use your new card or ask the Agence du Numérique en Santé for one.",
    },
    Message {
        code: "ERR_CERTIFICATE_NOT_YET_VALID",
        fr: "Le certificat de votre carte CPS n'est pas encore valide. Réessayez plus tard ou vérifiez la date et l'heure de ce poste.",
        en: "Your CPS card's certificate is not valid yet. Try again later or check this computer's date and time.",
    },
    Message {
        code: "ERR_CERTIFICATE_UNTRUSTED",
        fr: "Cette carte n'a pas été émise par une autorité de certification reconnue par ce site (IGC-Santé).",
        en: "This card was not issued by a certification authority this site recognises (IGC-Santé).",
    },
    Message {
        code: "ERR_CERTIFICATE_REVOKED",
        fr: "Le certificat de cette carte a été révoqué (carte perdue, volée ou remplacée). Contactez l'Agence du Numérique en Santé.",
        en: "This card's certificate has been revoked (card lost, stolen or replaced). Contact the Agence du Numérique en Santé.",
    },
    Message {
        code: "ERR_CRL_EXPIRED",
        fr: "La validité de votre carte ne peut pas être vérifiée pour le moment (liste de révocation périmée). Réessayez plus tard ou utilisez votre identifiant et mot de passe.",
        en: "Your card's validity cannot be checked at the moment (revocation list out of date). Try again later or use your username and password.",
    },
    Message {
        code: "ERR_REVOCATION_CHECK_FAILED",
        fr: "La validité de votre carte ne peut pas être vérifiée pour le moment. Réessayez plus tard ou utilisez votre identifiant et mot de passe.",
        en: "Your card's validity cannot be checked at the moment. Try again later or use your username and password.",
    },
    Message {
        code: "ERR_CERTIFICATE_KEY_USAGE",
        fr: "Le certificat présenté ne permet pas l'authentification. Utilisez la carte CPS personnelle du professionnel.",
        en: "The certificate presented does not allow authentication. Use the professional's personal CPS card.",
    },
    Message {
        code: "ERR_CERTIFICATE_EXTENDED_KEY_USAGE",
        fr: "Le certificat présenté n'est pas un certificat d'authentification. Utilisez la carte CPS personnelle du professionnel.",
        en: "The certificate presented is not an authentication certificate. Use the professional's personal CPS card.",
    },
    Message {
        code: "ERR_CERTIFICATE_INVALID",
        fr: "Le certificat de la carte n'est pas acceptable pour une connexion.",
        en: "The card's certificate cannot be accepted for a login.",
    },
    Message {
        code: "ERR_REVOCATION_UNKNOWN",
        fr: "La validité de votre carte CPS ne peut pas être vérifiée pour le moment (liste de révocation indisponible). Réessayez plus tard ou connectez-vous avec votre identifiant.",
        en: "Your CPS card's validity cannot be checked at the moment (revocation list unavailable). Try again later or log in with your username.",
    },
    Message {
        code: "ERR_CERTIFICATE_POLICY",
        fr: "Le certificat de cette carte n'est pas un certificat d'authentification accepté par ce site.",
        en: "This card's certificate is not an authentication certificate this site accepts.",
    },
    Message {
        code: "ERR_IDNAT_INVALID",
        fr: "Le certificat de cette carte ne porte pas d'identifiant national de professionnel de santé valide.",
        en: "This card's certificate does not carry a valid national health professional identifier.",
    },
    Message {
        code: "ERR_NONCE_STORE_FULL",
        fr: "Le service est très sollicité. Patientez quelques instants, puis cliquez à nouveau sur « S'identifier par carte CPS ».",
        en: "The service is very busy. Wait a moment, then click « Log in with CPS card » again.",
    },
    Message {
        code: "ERR_CHALLENGE_STORE_UNAVAILABLE",
        fr: "Le service de connexion est momentanément indisponible. Réessayez dans quelques instants.",
        en: "The login service is unavailable for the moment. Try again in a few moments.",
    },
    Message {
        code: "ERR_SESSION_STORE_UNAVAILABLE",
        fr: "Le service de connexion est momentanément indisponible. Réessayez dans quelques instants.",
        en: "The login service is unavailable for the moment. Try again in a few moments.",
    },
    Message {
        code: "ERR_TOO_MANY_REQUESTS",
        fr: "Trop de demandes depuis votre poste. Patientez quelques secondes, puis réessayez.",
        en: "Too many requests from your computer. Wait a few seconds, then try again.",
    },
    Message {
        code: "ERR_TOO_MANY_ATTEMPTS",
        fr: "Trop de tentatives de connexion. Patientez avant de réessayer.",
        en: "Too many login attempts. Wait before trying again.",
    },
    Message {
        code: "ERR_IDENTITY_INCOMPLETE",
        fr: "Le certificat de la carte ne contient pas d'identifiant national (idNat) exploitable.",
        en: "The card's certificate carries no usable national identifier (idNat).",
    },
    // The challenge (cpx-verify's nonce store, and the demo's session).
    Message {
        code: "ERR_NONCE_MISSING",
        fr: "Aucune demande de connexion n'est en cours pour cette page, ou elle a déjà servi. Cliquez à nouveau sur « S'identifier par carte CPS ».",
        en: "No login request is under way for this page, or it has already been used. Click « Log in with CPS card » again.",
    },
    Message {
        code: "ERR_NONCE_UNKNOWN",
        fr: "Cette demande de connexion n'est plus valable (elle a déjà servi ou a été remplacée). Cliquez à nouveau sur « S'identifier par carte CPS ».",
        en: "This login request is no longer valid (it has been used or replaced). Click « Log in with CPS card » again.",
    },
    Message {
        code: "ERR_NONCE_EXPIRED",
        fr: "La demande de connexion a expiré. Cliquez à nouveau sur « S'identifier par carte CPS ».",
        en: "The login request has expired. Click « Log in with CPS card » again.",
    },
    Message {
        code: "ERR_NONCE_WRONG_SESSION",
        fr: "Cette demande de connexion appartient à une autre session. Rechargez la page, puis réessayez.",
        en: "This login request belongs to another session. Reload the page, then try again.",
    },
    // The request and the site itself.
    Message {
        code: "ERR_ORIGIN_MISMATCH",
        fr: "La demande ne provient pas de ce site ; elle a été refusée.",
        en: "The request does not come from this site; it was refused.",
    },
    Message {
        code: "ERR_REQUEST_INVALID",
        fr: "La demande envoyée au serveur est invalide. Rechargez la page, puis réessayez.",
        en: "The request sent to the server is invalid. Reload the page, then try again.",
    },
    Message {
        code: "ERR_SESSION_EXPIRED",
        fr: "Votre session a expiré. Rechargez la page, puis réessayez.",
        en: "Your session has expired. Reload the page, then try again.",
    },
    Message {
        code: "ERR_CSRF",
        fr: "Le formulaire a expiré ou ne provient pas de ce site. Rechargez la page, puis réessayez.",
        en: "The form has expired or does not come from this site. Reload the page, then try again.",
    },
    Message {
        code: "ERR_VERIFIER_ORIGIN_INVALID",
        fr: "Ce site est mal configuré pour la connexion par carte CPS (adresse du site). Contactez son support.",
        en: "This site is misconfigured for CPS card login (the site's address). Contact its support.",
    },
    Message {
        code: "ERR_VERIFIER_NONCE_INVALID",
        fr: "Ce site a produit une demande de connexion invalide. Rechargez la page, puis réessayez.",
        en: "This site produced an invalid login request. Reload the page, then try again.",
    },
    Message {
        code: "ERR_SERVER",
        fr: "Une erreur est survenue sur le serveur. Réessayez dans quelques instants.",
        en: "An error occurred on the server. Try again in a few moments.",
    },
    // The provider's own (cpx-idp).
    Message {
        code: "ERR_LOGIN_EXPIRED",
        fr: "Cette demande de connexion a expiré ou a déjà servi. Retournez sur le site et recommencez.",
        en: "This login request has expired or has already been used. Go back to the site and start again.",
    },
];

/// Shown for a server-side code missing from the table.
pub const SERVER_FALLBACK: Message = Message {
    code: "ERR_UNKNOWN",
    fr: "La carte n'a pas pu être vérifiée. Réessayez ; si le problème persiste, contactez le support de ce site.",
    en: "The card could not be checked. Try again; if the problem persists, contact this site's support.",
};

/// What the page script says between the steps, and the PIN tries left (`{n}`), keyed by
/// the names the script reads (lower case: never an error code).
pub const PAGE_TEXTS: &[Message] = &[
    Message {
        code: "preparing",
        fr: "Préparation de la connexion…",
        en: "Preparing the login…",
    },
    Message {
        code: "pin",
        fr: "Saisissez votre code porteur dans la fenêtre CPx Connect qui s'ouvre…",
        en: "Enter your PIN in the CPx Connect window that opens…",
    },
    Message {
        code: "checking",
        fr: "Vérification de votre carte…",
        en: "Checking your card…",
    },
    Message {
        code: "redirecting",
        fr: "Carte vérifiée. Redirection…",
        en: "Card checked. Redirecting…",
    },
    Message {
        code: "unreachable",
        fr: "Le serveur ne répond pas. Vérifiez votre connexion au réseau, puis réessayez.",
        en: "The server does not answer. Check your network connection, then try again.",
    },
    Message {
        code: "retriesOne",
        fr: "Il vous reste 1 essai.",
        en: "1 try left.",
    },
    Message {
        code: "retriesMany",
        fr: "Il vous reste {n} essais.",
        en: "{n} tries left.",
    },
    Message {
        code: "codeLabel",
        fr: "Code d'erreur :",
        en: "Error code:",
    },
];

/// The card button's page script (`static/card-login.js`), which both services serve as
/// `/static/card-login.js`.
pub const CARD_LOGIN_SCRIPT: &str = include_str!("../static/card-login.js");

pub fn browser_message(code: &str) -> &'static Message {
    lookup(BROWSER_MESSAGES, code).unwrap_or(&BROWSER_FALLBACK)
}

pub fn server_message(code: &str) -> &'static Message {
    lookup(SERVER_MESSAGES, code).unwrap_or(&SERVER_FALLBACK)
}

fn lookup(table: &'static [Message], code: &str) -> Option<&'static Message> {
    table
        .iter()
        .find(|message| message.code.eq_ignore_ascii_case(code))
}

/// What the page script needs, in one language, as a JSON object: the browser-side
/// sentences by code, `fallback`, and the step texts ([`PAGE_TEXTS`]). The pages write it
/// with askama's `json` filter inside a `<script type="application/json">`.
pub fn page_table(language: Language) -> Map<String, Value> {
    BROWSER_MESSAGES
        .iter()
        .chain(PAGE_TEXTS)
        .map(|message| (message.code.to_owned(), message.text(language).into()))
        .chain([(
            "fallback".to_owned(),
            BROWSER_FALLBACK.text(language).into(),
        )])
        .collect()
}

#[cfg(test)]
mod tests;
