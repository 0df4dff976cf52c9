//! `cpx-virtual-card`: inserts a virtual CPS3 into a vpcd slot of the local pcscd and keeps it
//! there until killed (or until stdin closes with `--until-stdin-closes`).
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use cpx_virtual_card::{shared, vpcd, Holder, VirtualCard};

#[derive(Parser)]
#[command(version, about = "A virtual CPx (CPS3) card in a vpcd slot of pcscd")]
struct Arguments {
    /// vpcd port of the slot (35963: first slot, 35964: second slot).
    #[arg(long, default_value_t = vpcd::FIRST_SLOT_PORT)]
    port: u16,
    /// Which test card holder's keys and certificates the card carries.
    #[arg(long, value_enum, default_value_t = HolderArgument::Dupont)]
    holder: HolderArgument,
    /// Card PIN, 4 to 8 digits.
    #[arg(long, default_value = "1234")]
    pin: String,
    /// Pull the card out and exit when standard input reaches end of file.
    #[arg(long)]
    until_stdin_closes: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum HolderArgument {
    Dupont,
    Martin,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let holder = match arguments.holder {
        HolderArgument::Dupont => Holder::Dupont,
        HolderArgument::Martin => Holder::Martin,
    };
    let card = match VirtualCard::cps3(holder).try_with_pin(&arguments.pin) {
        Ok(card) => card,
        Err(error) => {
            eprintln!("cpx-virtual-card: --pin: {error}");
            return ExitCode::from(2);
        }
    };
    let inserted =
        match vpcd::insert_with_observer(shared(card), arguments.port, Box::new(log_apdu)) {
            Ok(inserted) => inserted,
            Err(error) => {
                eprintln!("cpx-virtual-card: {error}");
                return ExitCode::FAILURE;
            }
        };
    eprintln!(
        "cpx-virtual-card: {holder:?} card inserted on 127.0.0.1:{}",
        arguments.port
    );

    if arguments.until_stdin_closes {
        let (closed_sender, closed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = closed_sender.send(());
        });
        while inserted.is_serving() {
            if closed.recv_timeout(Duration::from_millis(200)).is_ok() {
                inserted.remove();
                eprintln!("cpx-virtual-card: stdin closed, card removed");
                return ExitCode::SUCCESS;
            }
        }
    } else {
        while inserted.is_serving() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    eprintln!("cpx-virtual-card: vpcd closed the connection");
    ExitCode::FAILURE
}

/// One line per APDU: header, data length and status word. Command data is never printed, so
/// a VERIFY's PIN never reaches the log.
fn log_apdu(command: &[u8], answer: &[u8]) {
    let header: Vec<String> = command
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02X}"))
        .collect();
    // Lc when the command has data (case 3 or 4), else none.
    let data_length = match command {
        [_, _, _, _, lc, _, ..] => usize::from(*lc),
        _ => 0,
    };
    let status = match answer {
        [.., sw1, sw2] => format!("{sw1:02X}{sw2:02X}"),
        _ => "----".to_owned(),
    };
    let masked = if command.get(1) == Some(&0x20) && data_length > 0 {
        " (PIN masked)"
    } else {
        ""
    };
    eprintln!(
        "apdu {} +{data_length} bytes{masked} -> {status} +{} bytes",
        header.join(" "),
        answer.len().saturating_sub(2)
    );
}
