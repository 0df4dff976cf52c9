//! `cpx-virtual-card`: inserts a virtual CPS3 (or CPS4) into a vpcd slot of the local pcscd and
//! keeps it there until killed (or until stdin closes with `--until-stdin-closes`). Each
//! behaviour a real card may have has a switch; the defaults follow the vendor's evidence
//! (the crate's README).
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use cpx_virtual_card::{shared, vpcd, EndOfFileAnswer, Holder, VirtualCard};

#[derive(Parser)]
#[command(
    version,
    about = "A virtual CPx (CPS3 or CPS4) card in a vpcd slot of pcscd"
)]
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
    /// Which card generation.
    #[arg(long, value_enum, default_value_t = CardArgument::Cps3)]
    card: CardArgument,
    /// CPS4 only: answer as a T=0 card (the CPS4 ATR offering T=0 only) instead of T=1.
    #[arg(long)]
    t0: bool,
    /// Under T=0, accept a command carrying data and Le (by default refused 67 00, as a T=0
    /// reader refuses it).
    #[arg(long)]
    lenient_t0: bool,
    /// CPS4 only: answer SELECT with P2=00 by an FCP template (62) instead of an FCI (6F).
    #[arg(long)]
    fcp_for_p2_00: bool,
    /// Another applet is left selected and answers this status word (6E00 or 6A86) until the
    /// IAS root is selected.
    #[arg(long, value_parser = parse_status_word)]
    another_applet: Option<u16>,
    /// How a READ BINARY past the end of a file is answered.
    #[arg(long, value_enum, default_value_t = EndOfFileArgument::WrongLe)]
    end_of_file: EndOfFileArgument,
    /// EF.DIR and the application: as a CPS3 most likely has them (no path), with a path, the
    /// relative layout, or no EF.DIR.
    #[arg(long, value_enum, default_value_t = LayoutArgument::Default)]
    layout: LayoutArgument,
}

#[derive(Clone, Copy, ValueEnum)]
enum CardArgument {
    Cps3,
    Cps4,
}

#[derive(Clone, Copy, ValueEnum)]
enum EndOfFileArgument {
    /// 6C xx with the bytes left.
    WrongLe,
    /// The last bytes with 62 82.
    Warning,
    /// 6B 00.
    WrongOffset,
    /// 67 00.
    WrongLength,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArgument {
    Default,
    EfDirPath,
    Relative,
    NoEfDir,
}

fn parse_status_word(text: &str) -> Result<u16, String> {
    match u16::from_str_radix(text, 16) {
        Ok(sw @ (0x6E00 | 0x6A86)) => Ok(sw),
        _ => Err("6E00 or 6A86".to_owned()),
    }
}

/// The card the arguments describe.
fn build_card(arguments: &Arguments, holder: Holder) -> VirtualCard {
    let mut card = match arguments.card {
        CardArgument::Cps3 => VirtualCard::cps3(holder),
        CardArgument::Cps4 => VirtualCard::cps4(holder),
    };
    if arguments.t0 {
        card = card.with_t0_answers();
    }
    if arguments.lenient_t0 {
        card = card.with_lenient_t0();
    }
    if arguments.fcp_for_p2_00 {
        card = card.with_fcp_template_for_p2_00();
    }
    if let Some(refusal) = arguments.another_applet {
        card = card.with_another_applet_selected(refusal);
    }
    card = card.with_end_of_file_answer(match arguments.end_of_file {
        EndOfFileArgument::WrongLe => EndOfFileAnswer::WrongLe,
        EndOfFileArgument::Warning => EndOfFileAnswer::EndOfFileWarning,
        EndOfFileArgument::WrongOffset => EndOfFileAnswer::WrongOffset,
        EndOfFileArgument::WrongLength => EndOfFileAnswer::WrongLength,
    });
    match arguments.layout {
        LayoutArgument::Default => card,
        LayoutArgument::EfDirPath => card.with_ef_dir_path(),
        LayoutArgument::Relative => card.with_relative_layout(),
        LayoutArgument::NoEfDir => card.without_ef_dir(),
    }
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
    let card = match build_card(&arguments, holder).try_with_pin(&arguments.pin) {
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
