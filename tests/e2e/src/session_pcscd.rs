//! A pcscd of one user's session, beside the machine's own, as on a session host where each
//! session's PC/SC service is its own (xrdp's redirection answers on a per-session socket named
//! by `PCSCLITE_CSOCK_NAME`).
//!
//! Debian 12's pcscd (pcsc-lite 1.9.9) cannot be told where to put its files: only the client
//! library reads `PCSCLITE_CSOCK_NAME` (pcsc-lite 1.9.9 `src/winscard_msg.c`:94), while the
//! daemon binds the compiled-in `/run/pcscd/pcscd.comm` (`src/winscard_msg_srv.c`:143), writes
//! `/run/pcscd/pcscd.pid`, and refuses to start while the machine's pcscd is alive
//! (`src/pcscdaemon.c`:465-490, 678). So each session's pcscd runs in a mount namespace of its
//! own (`unshare`, in a user namespace so that no root is needed) in which a temporary folder is
//! bind-mounted on `/run/pcscd`: its socket and pid file land in that folder, the machine's
//! pcscd and its files are untouched, and the host reaches it through `PCSCLITE_CSOCK_NAME`.
//! Its only reader is vpcd on ports chosen at run time; the USB reader drivers are hidden from
//! it, so that a reader plugged into the machine does not show up in every session.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::wait_until;

/// Debian's vsmartcard-vpcd driver, as `/etc/reader.conf.d/vpcd` names it.
const VPCD_DRIVER_DIRECTORY: &str = "/usr/lib/pcsc/drivers/serial";
const VPCD_DRIVER_FILE: &str = "libifdvpcd.so";
/// Where pcscd looks for USB reader drivers (pcscd 1.9.9 `--version`: `usbdropdir`).
const USB_DRIVER_DIRECTORY: &str = "/usr/lib/pcsc/drivers";
/// The machine's vpcd slots (tests/e2e's `SLOT_PORTS`), which a session must never take.
const MACHINE_VPCD_PORTS: [u16; 2] = crate::SLOT_PORTS;

/// One session's pcscd, stopped when dropped.
pub struct SessionPcscd {
    child: Child,
    directory: tempfile::TempDir,
    /// The TCP port of vpcd's first slot, where the session's virtual card connects.
    pub port: u16,
    /// The reader name pcscd gives that slot.
    pub reader: String,
    /// The name of the second slot's reader, empty in these tests.
    second_reader: String,
}

impl SessionPcscd {
    /// Starts a pcscd whose one vpcd reader is called `friendly_name` (pcscd appends ` 00 00`
    /// for the first slot), and waits until its socket answers and vpcd listens.
    pub fn start(friendly_name: &str) -> SessionPcscd {
        let directory = tempfile::tempdir().expect("temporary folder for a session pcscd");
        let run = directory.path().join("run");
        let drivers = directory.path().join("drivers");
        std::fs::create_dir(&run).expect("pcscd run folder");
        std::fs::create_dir(&drivers).expect("driver mount point");
        let port = free_port_pair();
        // vpcd's DEVICENAME `/dev/null:<port>` means "listen on <port>" (and <port>+1 for the
        // second slot), the form of /etc/reader.conf.d/vpcd (`/dev/null:0x8C7B`); vsmartcard's
        // ifd-vpcd.c, IFDHCreateChannelByName, reads the port with strtoul(..., 0).
        let configuration = directory.path().join("reader.conf");
        std::fs::write(
            &configuration,
            format!(
                "FRIENDLYNAME \"{friendly_name}\"\nDEVICENAME /dev/null:{port}\nLIBPATH {}\nCHANNELID {port}\n",
                drivers.join(VPCD_DRIVER_FILE).display()
            ),
        )
        .expect("write reader.conf");
        let output = std::fs::File::create(directory.path().join("pcscd.log")).expect("pcscd log");
        let errors = output.try_clone().expect("pcscd log");
        let script = r#"set -e
mount --bind "$1" /run/pcscd
mount --bind "$2" "$3"
mount -t tmpfs session-usb-drivers "$4"
exec pcscd --foreground --debug -c "$5""#;
        let child = Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "session-pcscd",
            ])
            .arg(&run)
            .arg(VPCD_DRIVER_DIRECTORY)
            .arg(&drivers)
            .arg(USB_DRIVER_DIRECTORY)
            .arg(&configuration)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .expect("unshare (util-linux) must be installed");
        let mut session = SessionPcscd {
            child,
            directory,
            port,
            reader: format!("{friendly_name} 00 00"),
            second_reader: format!("{friendly_name} 00 01"),
        };
        let socket = session.socket();
        wait_until(&format!("session pcscd on {}", socket.display()), || {
            session.assert_alive();
            socket.exists() && is_listening(port)
        });
        session
    }

    /// The names of the session's readers (vpcd's two slots), as PC/SC lists them.
    pub fn readers(&self) -> [&str; 2] {
        [&self.reader, &self.second_reader]
    }

    /// The value of `PCSCLITE_CSOCK_NAME` for the session's programs.
    pub fn socket(&self) -> PathBuf {
        self.directory.path().join("run").join("pcscd.comm")
    }

    /// What pcscd printed (foreground, debug level), for failure messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.directory.path().join("pcscd.log")).unwrap_or_default()
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "the session pcscd exited ({status}); is `unshare --user --mount` allowed here? Its output:\n{}",
                self.output()
            );
        }
    }
}

impl Drop for SessionPcscd {
    fn drop(&mut self) {
        // The pid is pcscd's own: unshare and sh exec into it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port P such that P and P+1 (vpcd's two slots) are free now, away from the machine's vpcd.
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let Ok(first) = TcpListener::bind(("0.0.0.0", 0)) else {
            continue;
        };
        let Ok(address) = first.local_addr() else {
            continue;
        };
        let port = address.port();
        let Some(second_port) = port.checked_add(1) else {
            continue;
        };
        if MACHINE_VPCD_PORTS.contains(&port) || MACHINE_VPCD_PORTS.contains(&second_port) {
            continue;
        }
        if TcpListener::bind(("0.0.0.0", second_port)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free TCP ports for a session vpcd");
}

/// True when something listens on TCP `port`, read from /proc/net/tcp{,6}: looked at, not
/// connected to, since a connection to vpcd is a card insertion.
pub fn is_listening(port: u16) -> bool {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local_port = fields
                    .get(1)
                    .and_then(|address| address.rsplit(':').next())
                    .and_then(|hex| u16::from_str_radix(hex, 16).ok());
                local_port == Some(port) && fields.get(3) == Some(&LISTEN)
            })
    })
}
