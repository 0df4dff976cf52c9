//! A Linux remote desktop session of xrdp: its channel server serves the readers redirected from
//! the user's computer on a PC/SC socket of the session, `$HOME/.pcsc<display>/pcscd.comm`
//! (xrdp `sesman/chansrv/smartcard_pcsc.c`, `scard_pcsc_init`), but does not point the session's
//! programs at it. Without `PCSCLITE_CSOCK_NAME` naming it, the host talks to the machine's
//! pcscd and never sees the user's card. xrdp marks its sessions with `XRDP_SESSION`
//! (`sesman/sesexec/env.c`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Check, Language, Status, Topic};

/// The line about the session's PC/SC socket, in an xrdp session only.
pub(super) fn check(
    lang: Language,
    environment: impl Fn(&str) -> Option<OsString>,
    socket_exists: impl Fn(&Path) -> bool,
) -> Option<Check> {
    environment("XRDP_SESSION")?;
    let display = environment("DISPLAY")?;
    let home = environment("HOME")?;
    let number = display_number(&display.to_string_lossy())?;
    let session_socket = PathBuf::from(home)
        .join(format!(".pcsc{number}"))
        .join("pcscd.comm");
    let socket = session_socket.display();
    let fix = lang.pick(
        format!("set PCSCLITE_CSOCK_NAME={socket} in the session's environment (e.g. in /etc/xrdp/startwm.sh), then log in again"),
        format!("définissez PCSCLITE_CSOCK_NAME={socket} dans l'environnement de la session (par exemple dans /etc/xrdp/startwm.sh), puis reconnectez-vous"),
    );
    let check = match environment("PCSCLITE_CSOCK_NAME") {
        None => Check {
            topic: Topic::PcscService,
            status: Status::Warn,
            text: lang.pick(
                "xrdp session: PCSCLITE_CSOCK_NAME is not set, so the host sees the machine's card readers, not the ones redirected from your computer",
                "session xrdp : PCSCLITE_CSOCK_NAME n'est pas défini, l'hôte voit donc les lecteurs de la machine et non ceux redirigés depuis votre poste",
            ).to_owned(),
            fix: Some(fix),
        },
        Some(named) if Path::new(&named) != session_socket => Check {
            topic: Topic::PcscService,
            status: Status::Warn,
            text: lang.pick(
                format!("xrdp session: PCSCLITE_CSOCK_NAME is {}, not this session's smart card socket {socket}", Path::new(&named).display()),
                format!("session xrdp : PCSCLITE_CSOCK_NAME vaut {}, et non le socket carte à puce de cette session {socket}", Path::new(&named).display()),
            ),
            fix: Some(fix),
        },
        Some(_) if !socket_exists(&session_socket) => Check {
            topic: Topic::PcscService,
            status: Status::Warn,
            text: lang.pick(
                format!("xrdp session: no smart card socket {socket}: smart card redirection is off in the remote desktop client or in xrdp"),
                format!("session xrdp : pas de socket carte à puce {socket} : la redirection des cartes à puce est désactivée dans le client bureau à distance ou dans xrdp"),
            ),
            fix: Some(lang.pick(
                "turn on smart card redirection in the remote desktop client (mstsc: Local Resources > More > Smart cards) and check xrdp.ini's channels",
                "activez la redirection des cartes à puce dans le client bureau à distance (mstsc : Ressources locales > Autres > Cartes à puce) et vérifiez les canaux de xrdp.ini",
            ).to_owned()),
        },
        Some(_) => Check {
            topic: Topic::PcscService,
            status: Status::Ok,
            text: lang.pick(
                format!("xrdp session: card readers redirected from your computer, through {socket}"),
                format!("session xrdp : lecteurs redirigés depuis votre poste, par {socket}"),
            ),
            fix: None,
        },
    };
    Some(check)
}

/// The display number of `DISPLAY` (`:10`, `:10.0`, `host:10`), as xrdp numbers the socket folder.
fn display_number(display: &str) -> Option<u32> {
    let (_, after_colon) = display.rsplit_once(':')?;
    let number = after_colon.split('.').next()?;
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(variables: &[(&str, &str)], socket_there: bool) -> Option<Check> {
        let variables: Vec<(String, OsString)> = variables
            .iter()
            .map(|(name, value)| (name.to_string(), OsString::from(value)))
            .collect();
        check(
            Language::English,
            |name| {
                variables
                    .iter()
                    .find(|(variable, _)| variable == name)
                    .map(|(_, value)| value.clone())
            },
            |_| socket_there,
        )
    }

    const SESSION: [(&str, &str); 3] = [
        ("XRDP_SESSION", "4242"),
        ("DISPLAY", ":10.0"),
        ("HOME", "/home/dupont"),
    ];

    fn with(extra: (&'static str, &'static str)) -> Vec<(&'static str, &'static str)> {
        let mut variables = SESSION.to_vec();
        variables.push(extra);
        variables
    }

    #[test]
    fn outside_xrdp_there_is_no_line() {
        assert!(run(&[("DISPLAY", ":0"), ("HOME", "/home/dupont")], true).is_none());
    }

    #[test]
    fn a_session_without_the_variable_is_told_what_to_set() {
        let check = run(&SESSION, true).unwrap();
        assert_eq!(check.status, Status::Warn);
        assert!(check.text.contains("PCSCLITE_CSOCK_NAME is not set"));
        assert!(check
            .fix
            .unwrap()
            .starts_with("set PCSCLITE_CSOCK_NAME=/home/dupont/.pcsc10/pcscd.comm "));
    }

    #[test]
    fn another_socket_is_named_with_the_right_one() {
        let check = run(
            &with(("PCSCLITE_CSOCK_NAME", "/run/pcscd/pcscd.comm")),
            true,
        )
        .unwrap();
        assert_eq!(check.status, Status::Warn);
        assert!(check.text.contains("/run/pcscd/pcscd.comm"));
        assert!(check.text.contains("/home/dupont/.pcsc10/pcscd.comm"));
    }

    #[test]
    fn the_session_socket_is_ok_when_xrdp_serves_it() {
        let variables = with(("PCSCLITE_CSOCK_NAME", "/home/dupont/.pcsc10/pcscd.comm"));
        assert_eq!(run(&variables, true).unwrap().status, Status::Ok);
        let missing = run(&variables, false).unwrap();
        assert_eq!(missing.status, Status::Warn);
        assert!(missing.text.contains("smart card redirection is off"));
    }

    #[test]
    fn display_numbers_as_xrdp_reads_them() {
        assert_eq!(display_number(":10"), Some(10));
        assert_eq!(display_number(":11.0"), Some(11));
        assert_eq!(display_number("localhost:12.0"), Some(12));
        assert_eq!(display_number("wayland-0"), None);
    }
}
