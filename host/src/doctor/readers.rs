//! Card readers, the cards in them and their authentication certificates, read as the `status`
//! and `certificates` commands do: never a PIN, never a VERIFY.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{Check, Context, Language, Status, Topic};
use crate::card::CardType;
use crate::readers::ReaderBackend;
use crate::service::{CertificateReport, HostService, StatusReport};

/// A certificate expiring sooner than this gets a warning.
const EXPIRY_WARNING: Duration = Duration::days(30);

/// Readers, cards and certificates; true when a recognised card has a usable certificate.
pub(super) fn check<B: ReaderBackend>(
    context: &Context,
    service: &mut HostService<B>,
    status: &StatusReport,
    checks: &mut Vec<Check>,
) -> bool {
    let lang = context.language;
    if status.readers.is_empty() {
        checks.push(Check {
            topic: Topic::Readers,
            status: Status::Fail,
            text: lang
                .pick("Card readers: none connected", "Lecteurs de cartes : aucun branché")
                .to_owned(),
            fix: Some(lang.pick(
                "connect the card reader; if it is connected, check that its driver is installed (Linux: apt install libccid)",
                "branchez le lecteur ; s'il l'est, vérifiez que son pilote est installé (Linux : apt install libccid)",
            ).to_owned()),
        });
        return false;
    }
    let names: Vec<&str> = status.readers.iter().map(|r| r.name.as_str()).collect();
    checks.push(Check {
        topic: Topic::Readers,
        status: Status::Ok,
        text: lang.pick(
            format!("Card readers: {}", names.join(", ")),
            format!("Lecteurs de cartes : {}", names.join(", ")),
        ),
        fix: None,
    });
    let mut recognised = 0;
    for reader in &status.readers {
        let Some(card) = &reader.card else {
            continue;
        };
        let known = card.card_type.can_log_in();
        recognised += usize::from(known);
        if card.card_type == CardType::Cps3Contactless {
            checks.push(contactless_card_check(lang, &reader.name));
            continue;
        }
        let atr = crate::hex::encode(&card.atr);
        checks.push(Check {
            topic: Topic::Card,
            status: if known { Status::Ok } else { Status::Warn },
            text: if known {
                lang.pick(
                    format!(
                        "Card in {}: {}",
                        reader.name,
                        card.card_type.protocol_name()
                    ),
                    format!(
                        "Carte dans {} : {}",
                        reader.name,
                        card.card_type.protocol_name()
                    ),
                )
            } else {
                lang.pick(
                    format!(
                        "Card in {}: not a CPx card with a login key (ATR {atr})",
                        reader.name
                    ),
                    format!(
                        "Carte dans {} : pas une carte CPx avec clé d'authentification (ATR {atr})",
                        reader.name
                    ),
                )
            },
            fix: (!known).then(|| {
                lang.pick(
                    "insert a CPS card (contact chip, CPS3 or CPS4)",
                    "insérez une carte CPS (puce à contact, CPS3 ou CPS4)",
                )
                .to_owned()
            }),
        });
    }
    if recognised == 0 {
        // No card at all, or only cards this host cannot log in with.
        let none_inserted = status.readers.iter().all(|r| r.card.is_none());
        checks.push(Check {
            topic: Topic::Card,
            status: Status::Fail,
            text: if none_inserted {
                lang.pick("Card: none inserted", "Carte : aucune insérée")
            } else {
                lang.pick(
                    "Card: no CPx card inserted",
                    "Carte : aucune carte CPx insérée",
                )
            }
            .to_owned(),
            fix: Some(
                lang.pick(
                    "insert your CPS card in the reader",
                    "insérez votre carte CPS dans le lecteur",
                )
                .to_owned(),
            ),
        });
        return false;
    }
    match service.certificates() {
        Ok(certificates) => {
            let mut usable = false;
            for certificate in &certificates {
                let check = certificate_check(lang, context.now, certificate);
                usable |= check.status != Status::Fail;
                checks.push(check);
            }
            usable
        }
        Err(error) => {
            checks.push(Check {
                topic: Topic::Certificate,
                status: Status::Fail,
                text: lang.pick(
                    format!("Certificate: cannot be read ({error})"),
                    format!("Certificat : illisible ({error})"),
                ),
                fix: Some(lang.pick(
                    "remove the card and insert it again; if it persists, the card may be faulty",
                    "retirez la carte puis réinsérez-la ; si cela persiste, la carte est peut-être défectueuse",
                ).to_owned()),
            });
            false
        }
    }
}

/// A CPS3 seen through a contactless interface: the vendor allows no signature there.
fn contactless_card_check(lang: Language, reader: &str) -> Check {
    Check {
        topic: Topic::Card,
        status: Status::Warn,
        text: lang.pick(
            format!("Card in {reader}: a CPS card read contactless, which cannot be used to log in"),
            format!("Carte dans {reader} : carte CPS lue sans contact, inutilisable pour s'identifier"),
        ),
        fix: Some(
            lang.pick(
                "insert the card in the reader's contact slot, chip first (not on the contactless pad)",
                "insérez la carte dans la fente à contact du lecteur, puce en premier (pas sur la zone sans contact)",
            )
            .to_owned(),
        ),
    }
}

/// Expiry and PIN state of one card's authentication certificate.
pub fn certificate_check(
    lang: Language,
    now: OffsetDateTime,
    certificate: &CertificateReport,
) -> Check {
    let holder = &certificate.holder;
    let who = [holder.given_name.as_deref(), holder.surname.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let id_nat = holder.id_nat.as_deref().unwrap_or("?");
    let card = certificate.card_type.protocol_name();
    let date = certificate
        .not_after
        .get(..10)
        .unwrap_or(&certificate.not_after);
    let pin = &certificate.pin;
    let tries = match pin.max_retries {
        Some(max) => format!("{}/{max}", pin.retries_left),
        None => pin.retries_left.to_string(),
    };
    let summary = lang.pick(
        format!("Certificate of {who} ({id_nat}), {card} card, valid until {date}, PIN tries left {tries}"),
        format!("Certificat de {who} ({id_nat}), carte {card}, valide jusqu'au {date}, essais de code restants {tries}"),
    );
    let (status, fix) = match OffsetDateTime::parse(&certificate.not_after, &Rfc3339) {
        Err(_) => (
            Status::Warn,
            Some(lang.pick("the expiry date could not be read; check the card with its issuer", "la date d'expiration est illisible ; faites vérifier la carte").to_owned()),
        ),
        Ok(not_after) if not_after <= now => (
            Status::Fail,
            Some(lang.pick(
                "the certificate has expired: order a new CPS card (ANS, esante.gouv.fr)",
                "le certificat a expiré : commandez une nouvelle carte CPS (ANS, esante.gouv.fr)",
            ).to_owned()),
        ),
        Ok(_) if pin.retries_left == 0 => (
            Status::Fail,
            Some(lang.pick(
                "the PIN is blocked: unblock it with the card's PUK code (ANS tools) or order a new card",
                "le code porteur est bloqué : débloquez-le avec le code de déblocage (outils de l'ANS) ou commandez une nouvelle carte",
            ).to_owned()),
        ),
        Ok(not_after) if not_after - now < EXPIRY_WARNING => (
            Status::Warn,
            Some(lang.pick(
                "the certificate expires within 30 days: order the card's renewal",
                "le certificat expire dans moins de 30 jours : commandez le renouvellement de la carte",
            ).to_owned()),
        ),
        Ok(_) => (Status::Ok, None),
    };
    Check {
        topic: Topic::Certificate,
        status,
        text: summary,
        fix,
    }
}
