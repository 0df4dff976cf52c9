//! What the user reads when something goes wrong, in French, keyed by stable error codes.
//!
//! Two tables: the codes the browser side can report (native host and extension, shown by
//! the page's script without a reload; the page gets this table as JSON) and the codes of
//! the server-side checks (`cpx-verify`'s `VerifyError::code()` and the demo's own).

/// Codes the page library can reject `authenticate()`/`status()` with.
pub const BROWSER_MESSAGES: &[(&str, &str)] = &[
    // The extension's own codes.
    (
        "ERR_EXTENSION_UNAVAILABLE",
        "L'extension CPx Connect n'est pas disponible dans ce navigateur. Installez-la (ou demandez-la à votre service informatique), puis rechargez la page.",
    ),
    (
        "ERR_HOST_NOT_INSTALLED",
        "Le module CPx Connect n'est pas installé sur ce poste. Installez-le (ou demandez-le à votre service informatique), puis réessayez.",
    ),
    (
        "ERR_HOST_INCOMPATIBLE",
        "Le module CPx Connect installé sur ce poste n'est pas compatible avec l'extension. Mettez-les à jour, puis réessayez.",
    ),
    (
        "ERR_HOST_CRASHED",
        "Le module CPx Connect s'est arrêté de façon inattendue. Réessayez ; si le problème persiste, contactez votre service informatique.",
    ),
    (
        "ERR_USER_CANCELLED",
        "Connexion annulée. Vous pouvez réessayer quand vous le souhaitez.",
    ),
    (
        "ERR_PIN_TIMEOUT",
        "Le code porteur n'a pas été saisi à temps. Cliquez à nouveau sur « S'identifier par carte CPS ».",
    ),
    (
        "ERR_TIMEOUT",
        "Le lecteur ou la carte n'a pas répondu à temps. Vérifiez que la carte est bien insérée, puis réessayez.",
    ),
    (
        "ERR_ORIGIN_NOT_ALLOWED",
        "La connexion par carte CPS n'est pas autorisée pour ce site sur ce poste. Contactez votre service informatique.",
    ),
    (
        "ERR_INSECURE_CONTEXT",
        "La connexion par carte CPS n'est possible que sur une page sécurisée (https).",
    ),
    (
        "ERR_BUSY",
        "Une connexion par carte est déjà en cours dans cet onglet. Terminez-la ou patientez quelques secondes.",
    ),
    (
        "ERR_USER_ACTIVATION_REQUIRED",
        "La connexion par carte ne démarre que d'un clic sur cette page, dans l'onglet affiché. Cliquez sur « S'identifier par carte CPS ».",
    ),
    // The native host's codes, passed on by the extension.
    (
        "ERR_PCSC_UNAVAILABLE",
        "Le service de cartes à puce de ce poste ne répond pas. Vérifiez que le lecteur est branché ; si le problème persiste, contactez votre service informatique.",
    ),
    (
        "ERR_NO_READER",
        "Aucun lecteur de carte détecté. Branchez votre lecteur de carte CPS, puis réessayez.",
    ),
    (
        "ERR_NO_CARD",
        "Aucune carte détectée. Insérez votre carte CPS dans le lecteur.",
    ),
    (
        "ERR_CARD_UNSUPPORTED",
        "La carte n'est pas utilisable pour se connecter. Insérez votre carte CPS (CPS3 ou CPS4) dans la fente à contact du lecteur : posée sur la zone sans contact, elle ne peut pas servir.",
    ),
    (
        "ERR_CERTIFICATE_NOT_FOUND",
        "Le certificat d'authentification de la carte est introuvable. La carte a peut-être été changée : réessayez.",
    ),
    (
        "ERR_CARD_REMOVED",
        "La carte a été retirée pendant l'opération. Réinsérez-la, puis réessayez.",
    ),
    (
        "ERR_PIN_REQUIRED",
        "Le code porteur de votre carte est nécessaire pour vous connecter.",
    ),
    (
        "ERR_PIN_FORMAT",
        "Le code porteur saisi n'a pas le bon format : il se compose de 4 chiffres.",
    ),
    (
        "ERR_PIN_INCORRECT",
        "Code porteur incorrect. Attention : après trois erreurs, la carte est bloquée.",
    ),
    (
        "ERR_PIN_BLOCKED",
        "Votre carte est bloquée après trop de codes porteur erronés. Débloquez-la avec votre code de déblocage ou contactez l'Agence du Numérique en Santé.",
    ),
    (
        "ERR_CARD_ERROR",
        "La carte a signalé une erreur. Retirez-la, réinsérez-la, puis réessayez.",
    ),
    (
        "ERR_ORIGIN_INVALID",
        "L'adresse de ce site n'a pas été acceptée par le module CPx Connect.",
    ),
    (
        "ERR_NONCE_INVALID",
        "Le défi de connexion envoyé par le site n'est pas valide. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_INVALID_REQUEST",
        "La demande de connexion n'a pas pu être traitée. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_UNKNOWN_COMMAND",
        "Le module CPx Connect installé sur ce poste est trop ancien. Mettez-le à jour.",
    ),
    (
        "ERR_INTERNAL",
        "Une erreur interne est survenue dans CPx Connect. Réessayez ; si le problème persiste, contactez votre service informatique.",
    ),
];

/// Shown for a browser-side code missing from the table (a newer extension, say).
pub const BROWSER_FALLBACK: &str =
    "La connexion par carte CPS a échoué. Réessayez ; si le problème persiste, contactez votre service informatique.";

/// Codes of the server-side checks: `cpx-verify`'s `VerifyError::code()`, its nonce errors,
/// and the demo's own (origin, session, linking).
pub const SERVER_MESSAGES: &[(&str, &str)] = &[
    // The token itself (cpx-verify).
    (
        "ERR_TOKEN_MALFORMED",
        "La réponse de la carte est illisible. Réessayez ; si le problème persiste, mettez à jour CPx Connect.",
    ),
    (
        "ERR_TOKEN_TOO_LARGE",
        "La réponse de la carte est trop volumineuse pour être acceptée.",
    ),
    (
        "ERR_TOKEN_FORMAT_UNSUPPORTED",
        "Le format de la réponse de la carte n'est pas pris en charge par ce site. Mettez à jour CPx Connect.",
    ),
    (
        "ERR_ALGORITHM_UNSUPPORTED",
        "L'algorithme de signature de la carte n'est pas pris en charge par ce site.",
    ),
    (
        "ERR_ALGORITHM_KEY_MISMATCH",
        "L'algorithme de signature annoncé ne correspond pas à la clé de la carte.",
    ),
    (
        "ERR_SIGNATURE_INVALID",
        "La signature de la carte ne correspond pas à la demande de ce site. Rechargez la page, puis réessayez.",
    ),
    // The certificate (cpx-verify).
    (
        "ERR_CERTIFICATE_EXPIRED",
        "Le certificat de votre carte CPS a expiré. Utilisez votre nouvelle carte ou demandez-en une auprès de l'Agence du Numérique en Santé.",
    ),
    (
        "ERR_CERTIFICATE_NOT_YET_VALID",
        "Le certificat de votre carte CPS n'est pas encore valide. Réessayez plus tard ou vérifiez la date et l'heure de ce poste.",
    ),
    (
        "ERR_CERTIFICATE_UNTRUSTED",
        "Cette carte n'a pas été émise par une autorité de certification reconnue par ce site (IGC-Santé).",
    ),
    (
        "ERR_CERTIFICATE_REVOKED",
        "Le certificat de cette carte a été révoqué (carte perdue, volée ou remplacée). Contactez l'Agence du Numérique en Santé.",
    ),
    (
        "ERR_CRL_EXPIRED",
        "La validité de votre carte ne peut pas être vérifiée pour le moment (liste de révocation périmée). Réessayez plus tard ou utilisez votre identifiant et mot de passe.",
    ),
    (
        "ERR_REVOCATION_CHECK_FAILED",
        "La validité de votre carte ne peut pas être vérifiée pour le moment. Réessayez plus tard ou utilisez votre identifiant et mot de passe.",
    ),
    (
        "ERR_CERTIFICATE_KEY_USAGE",
        "Le certificat présenté ne permet pas l'authentification. Utilisez la carte CPS personnelle du professionnel.",
    ),
    (
        "ERR_CERTIFICATE_EXTENDED_KEY_USAGE",
        "Le certificat présenté n'est pas un certificat d'authentification. Utilisez la carte CPS personnelle du professionnel.",
    ),
    (
        "ERR_CERTIFICATE_INVALID",
        "Le certificat de la carte n'est pas acceptable pour une connexion.",
    ),
    (
        "ERR_REVOCATION_UNKNOWN",
        "La validité de votre carte CPS ne peut pas être vérifiée pour le moment (liste de révocation indisponible). Réessayez plus tard ou connectez-vous avec votre identifiant.",
    ),
    (
        "ERR_CERTIFICATE_POLICY",
        "Le certificat de cette carte n'est pas un certificat d'authentification accepté par ce site.",
    ),
    (
        "ERR_IDNAT_INVALID",
        "Le certificat de cette carte ne porte pas d'identifiant national de professionnel de santé valide.",
    ),
    (
        "ERR_NONCE_STORE_FULL",
        "Le service est très sollicité. Patientez quelques instants, puis cliquez à nouveau sur « S'identifier par carte CPS ».",
    ),
    (
        "ERR_CHALLENGE_STORE_UNAVAILABLE",
        "Le service de connexion est momentanément indisponible. Réessayez dans quelques instants.",
    ),
    (
        "ERR_SESSION_STORE_UNAVAILABLE",
        "Le service de connexion est momentanément indisponible. Réessayez dans quelques instants.",
    ),
    (
        "ERR_TOO_MANY_REQUESTS",
        "Trop de demandes depuis votre poste. Patientez quelques secondes, puis réessayez.",
    ),
    (
        "ERR_TOO_MANY_ATTEMPTS",
        "Trop de tentatives de connexion. Patientez avant de réessayer.",
    ),
    (
        "ERR_IDENTITY_INCOMPLETE",
        "Le certificat de la carte ne contient pas d'identifiant national (idNat) exploitable.",
    ),
    // The challenge (cpx-verify's nonce store, and the demo's session).
    (
        "ERR_NONCE_MISSING",
        "Aucune demande de connexion n'est en cours pour cette page, ou elle a déjà servi. Cliquez à nouveau sur « S'identifier par carte CPS ».",
    ),
    (
        "ERR_NONCE_UNKNOWN",
        "Cette demande de connexion n'est plus valable (elle a déjà servi ou a été remplacée). Cliquez à nouveau sur « S'identifier par carte CPS ».",
    ),
    (
        "ERR_NONCE_EXPIRED",
        "La demande de connexion a expiré. Cliquez à nouveau sur « S'identifier par carte CPS ».",
    ),
    (
        "ERR_NONCE_WRONG_SESSION",
        "Cette demande de connexion appartient à une autre session. Rechargez la page, puis réessayez.",
    ),
    // The request and the site itself.
    (
        "ERR_ORIGIN_MISMATCH",
        "La demande ne provient pas de ce site ; elle a été refusée.",
    ),
    (
        "ERR_REQUEST_INVALID",
        "La demande envoyée au serveur est invalide. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_SESSION_EXPIRED",
        "Votre session a expiré. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_CSRF",
        "Le formulaire a expiré ou ne provient pas de ce site. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_VERIFIER_ORIGIN_INVALID",
        "Ce site est mal configuré pour la connexion par carte CPS (adresse du site). Contactez son support.",
    ),
    (
        "ERR_VERIFIER_NONCE_INVALID",
        "Ce site a produit une demande de connexion invalide. Rechargez la page, puis réessayez.",
    ),
    (
        "ERR_SERVER",
        "Une erreur est survenue sur le serveur. Réessayez dans quelques instants.",
    ),
];

/// Shown for a server-side code missing from the table.
pub const SERVER_FALLBACK: &str =
    "La carte n'a pas pu être vérifiée. Réessayez ; si le problème persiste, contactez le support de ce site.";

pub fn browser_message(code: &str) -> &'static str {
    lookup(BROWSER_MESSAGES, code).unwrap_or(BROWSER_FALLBACK)
}

pub fn server_message(code: &str) -> &'static str {
    lookup(SERVER_MESSAGES, code).unwrap_or(SERVER_FALLBACK)
}

fn lookup(table: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(code))
        .map(|(_, message)| *message)
}

/// The browser-side table as a JSON object, for the page's script (the pages write it with
/// askama's `json` filter).
pub fn browser_messages() -> serde_json::Map<String, serde_json::Value> {
    BROWSER_MESSAGES
        .iter()
        .map(|(code, message)| ((*code).to_owned(), (*message).into()))
        .chain([("fallback".to_owned(), BROWSER_FALLBACK.into())])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the brief lists for the page library.
    const BRIEF_CODES: &[&str] = &[
        "ERR_PIN_BLOCKED",
        "ERR_NO_CARD",
        "ERR_NO_READER",
        "ERR_PCSC_UNAVAILABLE",
        "ERR_CARD_UNSUPPORTED",
        "ERR_CARD_REMOVED",
        "ERR_CARD_ERROR",
        "ERR_INTERNAL",
        "ERR_EXTENSION_UNAVAILABLE",
        "ERR_HOST_NOT_INSTALLED",
        "ERR_USER_CANCELLED",
        "ERR_PIN_TIMEOUT",
        "ERR_TIMEOUT",
        "ERR_ORIGIN_NOT_ALLOWED",
        "ERR_INSECURE_CONTEXT",
        "ERR_BUSY",
    ];

    #[test]
    fn every_browser_code_has_its_own_message() {
        for code in BRIEF_CODES {
            assert_ne!(browser_message(code), BROWSER_FALLBACK, "{code}");
        }
        assert_eq!(browser_message("ERR_SOMETHING_NEW"), BROWSER_FALLBACK);
    }

    /// Every code the extension and the host can hand the page (extension/src/shared/errors.js,
    /// which lists both and is itself checked against the host's source) has its own message.
    #[test]
    fn every_code_of_the_extension_and_the_host_has_its_own_message() {
        let errors_js = include_str!("../../extension/src/shared/errors.js");
        let mut codes: Vec<&str> = errors_js
            .split('"')
            .filter(|word| {
                word.starts_with("ERR_")
                    && word.len() > 4
                    && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert!(codes.len() > 25, "{codes:?}");
        for code in codes {
            assert_ne!(browser_message(code), BROWSER_FALLBACK, "{code}");
        }
    }

    #[test]
    fn codes_are_unique() {
        for table in [BROWSER_MESSAGES, SERVER_MESSAGES] {
            let mut codes: Vec<&str> = table.iter().map(|(code, _)| *code).collect();
            codes.sort_unstable();
            let count = codes.len();
            codes.dedup();
            assert_eq!(codes.len(), count);
        }
    }

    #[test]
    fn json_table_carries_every_code() {
        let parsed = browser_messages();
        assert_eq!(parsed.len(), BROWSER_MESSAGES.len() + 1);
        assert_eq!(
            parsed.get("ERR_NO_CARD").and_then(|v| v.as_str()),
            Some(browser_message("ERR_NO_CARD"))
        );
    }
}
