//! The host's commands in card terms: which readers and cards there are, which certificates they
//! hold, and a login signature. It sees readers and card drivers, never APDUs or JSON.

pub mod cache;
pub mod holder;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::card::{self, CardError, CardProfile, CardType, Pin, PinStatus};
use crate::readers::{BackendError, ReaderBackend, ReaderSlot};
use crate::token::{self, AuthToken, ChallengeNonce, Origin, SignatureError};
use cache::ProfileCache;
use holder::Holder;

/// Errors of the host's commands; each maps to one wire code of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the PC/SC service (pcscd) is not running or not reachable")]
    PcscUnavailable,
    #[error("no smart card reader is connected")]
    NoReader,
    #[error("no card is inserted")]
    NoCard,
    #[error("the card is not a supported CPx card: {0}")]
    CardUnsupported(String),
    #[error("the CPS card is read contactless, which allows no login: insert it in the reader's contact slot (chip first)")]
    CardContactless,
    #[error("no inserted card holds the requested certificate")]
    CertificateNotFound,
    #[error("the card was removed or reset during the operation")]
    CardRemoved,
    #[error("{0}")]
    PinFormat(&'static str),
    #[error("wrong PIN")]
    PinIncorrect { retries_left: u8 },
    #[error("the PIN is blocked")]
    PinBlocked,
    #[error("the card refused the operation: {message}")]
    Card { sw: Option<u16>, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<CardError> for HostError {
    fn from(error: CardError) -> Self {
        use crate::card::TransportError;
        match error {
            CardError::Transport(TransportError::CardRemoved | TransportError::CardReset) => {
                HostError::CardRemoved
            }
            CardError::Transport(TransportError::ServiceGone) => HostError::PcscUnavailable,
            CardError::WrongPin { retries_left } => HostError::PinIncorrect { retries_left },
            CardError::PinBlocked => HostError::PinBlocked,
            CardError::PinFormat(why) => HostError::PinFormat(why),
            CardError::Unsupported(why) => HostError::CardUnsupported(why),
            CardError::Status { sw, .. } => HostError::Card {
                sw: Some(sw.to_u16()),
                message: error.to_string(),
            },
            CardError::Transport(TransportError::Other(_))
            | CardError::Protocol(_)
            | CardError::Malformed(_) => HostError::Card {
                sw: None,
                message: error.to_string(),
            },
        }
    }
}

impl From<BackendError> for HostError {
    fn from(error: BackendError) -> Self {
        match error {
            BackendError::ServiceUnavailable => HostError::PcscUnavailable,
            BackendError::ReaderGone(_) | BackendError::NoCard(_) => HostError::CardRemoved,
            BackendError::Transport(transport) => CardError::Transport(transport).into(),
            BackendError::CardBusy(_) | BackendError::CardUnresponsive(_) => HostError::Card {
                sw: None,
                message: error.to_string(),
            },
            BackendError::Other(message) => HostError::Internal(message),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderReport {
    pub name: String,
    pub card: Option<CardReport>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReport {
    pub atr: Vec<u8>,
    pub card_type: CardType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub service_available: bool,
    pub readers: Vec<ReaderReport>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateReport {
    pub certificate_id: String,
    pub reader: String,
    pub card_type: CardType,
    pub certificate_der: Vec<u8>,
    pub holder: Holder,
    pub not_after: String,
    pub pin: PinStatus,
    pub pin_min_length: usize,
    pub pin_max_length: usize,
}

/// A signed login and what the card needed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLogin {
    pub token: AuthToken,
    pub apdus: usize,
}

/// Stable id of a certificate: the first 16 bytes of the SHA-256 of its DER, in hex.
pub fn certificate_id(certificate_der: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(certificate_der)[..16]).to_ascii_lowercase()
}

/// Serves the commands, remembering what it learnt about each card (public data only) so that
/// a known card does not have its files read again.
pub struct HostService<B> {
    backend: B,
    profiles: ProfileCache,
}

/// A card profile, and whether it came from the cache (and so may be stale).
struct KnownProfile {
    profile: CardProfile,
    cached: bool,
}

impl<B: ReaderBackend> HostService<B> {
    /// A service that remembers cards for the life of the process only.
    pub fn new(backend: B) -> Self {
        HostService::with_cache(backend, ProfileCache::in_memory())
    }

    pub fn with_cache(backend: B, profiles: ProfileCache) -> Self {
        HostService { backend, profiles }
    }

    pub fn status(&mut self) -> StatusReport {
        match self.backend.readers() {
            Ok(readers) => StatusReport {
                service_available: true,
                readers: readers
                    .into_iter()
                    .map(|slot| ReaderReport {
                        card: slot.atr.map(|atr| CardReport {
                            card_type: card::recognise(&atr),
                            atr,
                        }),
                        name: slot.name,
                    })
                    .collect(),
            },
            Err(error) => {
                warn!(%error, "status: readers unavailable");
                StatusReport {
                    service_available: false,
                    readers: Vec::new(),
                }
            }
        }
    }

    /// The readers holding a card this host can log in with, in reader order.
    fn recognised_cards(&mut self) -> Result<Vec<(ReaderSlot, CardType)>, HostError> {
        let readers = self.backend.readers()?;
        if readers.is_empty() {
            return Err(HostError::NoReader);
        }
        let with_card: Vec<ReaderSlot> = readers.into_iter().filter(|r| r.atr.is_some()).collect();
        if with_card.is_empty() {
            return Err(HostError::NoCard);
        }
        let typed: Vec<(ReaderSlot, CardType)> = with_card
            .into_iter()
            .map(|slot| {
                let card_type = card::recognise(slot.atr.as_deref().unwrap_or_default());
                (slot, card_type)
            })
            .collect();
        let contactless = typed
            .iter()
            .any(|(_, card_type)| *card_type == CardType::Cps3Contactless);
        let recognised: Vec<(ReaderSlot, CardType)> = typed
            .into_iter()
            .filter(|(_, card_type)| card_type.can_log_in())
            .collect();
        if recognised.is_empty() && contactless {
            return Err(HostError::CardContactless);
        }
        if recognised.is_empty() {
            return Err(HostError::CardUnsupported(
                "the inserted card is not a CPx card with a login key".into(),
            ));
        }
        Ok(recognised)
    }

    /// The profile of the card, from the cache when this card was read before.
    fn profile(
        profiles: &mut ProfileCache,
        driver: &mut dyn card::CpxCard,
    ) -> Result<KnownProfile, CardError> {
        let serial = driver.icc_serial()?;
        if let Some(profile) = profiles.get(&serial) {
            return Ok(KnownProfile {
                profile,
                cached: true,
            });
        }
        let profile = driver.read_profile(&serial)?;
        profiles.put(&profile);
        Ok(KnownProfile {
            profile,
            cached: false,
        })
    }

    /// The certificate of every recognised card. A card removed, reset or replaced while it was
    /// read (PC/SC "card changed" codes, see `readers::pcsc`) makes the whole request start
    /// again once, from the reader list: it sends no PIN, so reading again is safe, and a card
    /// swapped a moment before is then read as the card now in the reader.
    pub fn certificates(&mut self) -> Result<Vec<CertificateReport>, HostError> {
        let (result, changed) = self.certificates_once();
        if changed.is_empty() {
            return result;
        }
        info!("certificates: a card changed while it was read; reading again");
        for reader in &changed {
            self.backend.recover(reader);
        }
        self.certificates_once().0
    }

    /// One pass over the readers, and the readers whose card changed under it.
    fn certificates_once(&mut self) -> (Result<Vec<CertificateReport>, HostError>, Vec<String>) {
        let cards = match self.recognised_cards() {
            Ok(cards) => cards,
            Err(error) => return (Err(error), Vec::new()),
        };
        let mut reports = Vec::new();
        let mut first_error = None;
        let mut changed = Vec::new();
        for (slot, card_type) in cards {
            match self.read_certificate(&slot.name, card_type) {
                Ok(report) => reports.push(report),
                Err(error) => {
                    warn!(reader = %slot.name, %error, "certificates: card skipped");
                    if error == HostError::CardRemoved {
                        changed.push(slot.name.clone());
                    }
                    first_error.get_or_insert(error);
                }
            }
        }
        let result = match (reports.is_empty(), first_error) {
            (true, Some(error)) => Err(error),
            _ => Ok(reports),
        };
        (result, changed)
    }

    fn read_certificate(
        &mut self,
        reader: &str,
        card_type: CardType,
    ) -> Result<CertificateReport, HostError> {
        let mut connection = self.backend.connect(reader)?;
        let mut transport = connection.transaction()?;
        let mut driver = card::driver(card_type, transport.as_mut())?;
        let KnownProfile { profile, .. } = Self::profile(&mut self.profiles, driver.as_mut())?;
        let pin = driver.pin_status(&profile)?;
        info!(
            reader,
            apdus = driver.apdus_sent(),
            "certificates: card read"
        );
        let summary =
            holder::summarise(&profile.certificate_der).map_err(|why| HostError::Card {
                sw: None,
                message: format!("the card's certificate does not parse: {why}"),
            })?;
        Ok(CertificateReport {
            certificate_id: certificate_id(&profile.certificate_der),
            reader: reader.to_owned(),
            card_type,
            holder: summary.holder,
            not_after: summary.not_after,
            pin,
            pin_min_length: profile.pin.min_length(),
            pin_max_length: profile.pin.max_length(),
            certificate_der: profile.certificate_der,
        })
    }

    /// Signs the origin-bound login digest with the card holding `wanted_certificate_id`.
    /// The PIN is sent once, in one VERIFY; a wrong PIN is reported, never retried.
    pub fn authenticate(
        &mut self,
        origin: &Origin,
        nonce: &ChallengeNonce,
        wanted_certificate_id: &str,
        pin: &Pin,
    ) -> Result<SignedLogin, HostError> {
        let cards = self.recognised_cards()?;
        let mut unreadable = None;
        for (slot, card_type) in cards {
            match self.sign_if_holder(
                &slot.name,
                card_type,
                origin,
                nonce,
                wanted_certificate_id,
                pin,
            ) {
                Ok(Some(login)) => return Ok(login),
                Ok(None) => {}
                // A card that cannot be read may be the one asked for: report that rather than
                // "not found", but only once no other card matched.
                Err(error) if !error.is_final() => {
                    warn!(reader = %slot.name, %error, "authenticate: card skipped");
                    unreadable.get_or_insert(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(unreadable.unwrap_or(HostError::CertificateNotFound))
    }

    /// Signs with the card in `reader` if it holds the wanted certificate; `None` if it does not.
    fn sign_if_holder(
        &mut self,
        reader: &str,
        card_type: CardType,
        origin: &Origin,
        nonce: &ChallengeNonce,
        wanted_certificate_id: &str,
        pin: &Pin,
    ) -> Result<Option<SignedLogin>, HostError> {
        let mut connection = self.backend.connect(reader)?;
        let mut transport = connection.transaction()?;
        let mut driver = card::driver(card_type, transport.as_mut())?;
        let KnownProfile { profile, cached } = Self::profile(&mut self.profiles, driver.as_mut())?;
        if certificate_id(&profile.certificate_der) != wanted_certificate_id {
            return Ok(None);
        }
        profile.pin.check(pin)?;
        let digest = token::login_digest(origin, nonce);
        let signature = match driver.sign_login_digest(&profile, pin, &digest) {
            Ok(signature) => signature,
            Err(error @ CardError::Status { .. }) if cached => {
                // The card refused what its cached profile says it can do: its files changed.
                self.profiles.forget(&profile.icc_serial);
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        let mut certificate = profile.certificate_der.clone();
        let mut verified = token::verify_card_signature(&certificate, &digest, &signature);
        if verified.is_err() && cached {
            // Maybe the cached certificate is stale: read the card's files again and check the
            // same signature against what the card holds now (no second VERIFY).
            self.profiles.forget(&profile.icc_serial);
            let fresh = driver.read_profile(&profile.icc_serial)?;
            verified = token::verify_card_signature(&fresh.certificate_der, &digest, &signature);
            if verified.is_ok() {
                certificate = fresh.certificate_der.clone();
                self.profiles.put(&fresh);
            }
        }
        let algorithm = verified.map_err(|error| HostError::Card {
            sw: None,
            message: match error {
                SignatureError::Mismatch => {
                    "the card's signature does not verify with its certificate".into()
                }
                other => other.to_string(),
            },
        })?;
        let apdus = driver.apdus_sent();
        info!(
            reader,
            origin = origin.as_str(),
            apdus,
            "authenticate: signed"
        );
        Ok(Some(SignedLogin {
            token: AuthToken::new(&certificate, algorithm, &signature),
            apdus,
        }))
    }
}

impl HostError {
    /// Errors that end an `authenticate` at once, whichever card raised them: the PIN's fate
    /// and bad input must never be hidden by looking at further cards.
    fn is_final(&self) -> bool {
        matches!(
            self,
            HostError::PinFormat(_)
                | HostError::PinIncorrect { .. }
                | HostError::PinBlocked
                | HostError::PcscUnavailable
        )
    }
}
