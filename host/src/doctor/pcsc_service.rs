//! The PC/SC service: pcscd on Linux, the Smart Card service (SCardSvr) on Windows, the system's
//! own on macOS. Without it no reader is seen at all.

use super::{Check, Context, Language, Status, Topic};
use crate::install::Platform;

/// The service's line; `available` is what the readers' layer found.
pub(super) fn check(context: &Context, available: bool) -> Check {
    let lang = context.language;
    if !available {
        return Check {
            topic: Topic::PcscService,
            status: Status::Fail,
            text: if context.platform == Platform::Windows {
                lang.pick(
                    "PC/SC service: not reachable (Windows' Smart Card service, SCardSvr, is not running)",
                    "Service PC/SC : injoignable (le service Carte à puce de Windows, SCardSvr, n'est pas démarré)",
                )
            } else {
                lang.pick("PC/SC service: not reachable", "Service PC/SC : injoignable")
            }
            .to_owned(),
            fix: Some(pcsc_fix(context.platform, lang)),
        };
    }
    Check {
        topic: Topic::PcscService,
        status: Status::Ok,
        text: lang
            .pick("PC/SC service: running", "Service PC/SC : actif")
            .to_owned(),
        fix: None,
    }
}

fn pcsc_fix(platform: Platform, lang: Language) -> String {
    match platform {
        Platform::Linux => lang.pick(
            "install and start pcscd: sudo apt install pcscd && sudo systemctl enable --now pcscd.socket",
            "installez et démarrez pcscd : sudo apt install pcscd && sudo systemctl enable --now pcscd.socket",
        ),
        Platform::MacOs => lang.pick(
            "macOS's smart card service starts with a reader: reconnect the reader, then restart the Mac if needed",
            "le service carte à puce de macOS démarre avec le lecteur : rebranchez-le, puis redémarrez le Mac si besoin",
        ),
        // Since Windows 8 the Smart Card service (SCardSvr) runs only while a reader is connected.
        Platform::Windows => lang.pick(
            "connect the card reader (Windows starts its Smart Card service, SCardSvr, when a reader appears); if it stays stopped, in an administrator prompt: sc config SCardSvr start= demand && sc start SCardSvr",
            "branchez le lecteur (Windows démarre le service Carte à puce, SCardSvr, à l'arrivée d'un lecteur) ; s'il reste arrêté, dans une invite administrateur : sc config SCardSvr start= demand && sc start SCardSvr",
        ),
    }
    .to_owned()
}
