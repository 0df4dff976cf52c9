//! Puts a [`VirtualCard`](crate::VirtualCard) in a vpcd slot of pcscd (package
//! `vsmartcard-vpcd`), so that PC/SC applications see it as a card in a reader.
//!
//! vpcd listens on 127.0.0.1 (35963 for the first slot, 35964 for the second). The card side
//! connects and serves frames: a 2-byte big-endian length, then the payload. A 1-byte payload
//! is a control code (`00` power off, `01` power on, `02` reset, `04` ATR request, answered with
//! the ATR); anything else is a command APDU, answered with the response APDU. Closing the
//! connection pulls the card out. [`insert_with_faults`] lets a test script what goes wrong
//! (see [`crate::faults`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::faults::FaultPlan;
use crate::SharedCard;

/// The vpcd port of pcscd's first virtual slot.
pub const FIRST_SLOT_PORT: u16 = 35963;
/// The vpcd port of pcscd's second virtual slot.
pub const SECOND_SLOT_PORT: u16 = 35964;

/// How long [`InsertedCard::remove`] waits after closing: pcscd polls vpcd every 400 ms.
pub const REMOVAL_SETTLE_TIME: std::time::Duration = std::time::Duration::from_millis(1000);

const POWER_OFF: u8 = 0x00;
const POWER_ON: u8 = 0x01;
const RESET: u8 = 0x02;
const ATR_REQUEST: u8 = 0x04;

/// Called with each command APDU and its response, e.g. to log them.
pub type Observer = Box<dyn FnMut(&[u8], &[u8]) + Send>;

/// A card sitting in a vpcd slot. Pull it out with [`InsertedCard::remove`] or by dropping it.
pub struct InsertedCard {
    stream: TcpStream,
    serving: Arc<AtomicBool>,
    /// When the connection ended, if it did before [`InsertedCard::remove`] (vpcd or a fault).
    left_at: Arc<Mutex<Option<Instant>>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Inserts `card` into the vpcd slot listening on 127.0.0.1:`port`.
pub fn insert(card: SharedCard, port: u16) -> io::Result<InsertedCard> {
    insert_with_observer(card, port, Box::new(|_, _| {}))
}

/// Like [`insert`], calling `observer` with every command APDU and its response.
pub fn insert_with_observer(
    card: SharedCard,
    port: u16,
    observer: Observer,
) -> io::Result<InsertedCard> {
    insert_serving(card, port, observer, FaultPlan::new())
}

/// Like [`insert`], with the faults `plan` holds or will hold: the test keeps a clone of the
/// plan to arm faults and read what came over the wire. A fault that pulls the card out ends
/// the connection; insert the card again (with the same plan, to keep counting) to put it back.
pub fn insert_with_faults(
    card: SharedCard,
    port: u16,
    plan: &FaultPlan,
) -> io::Result<InsertedCard> {
    insert_serving(card, port, Box::new(|_, _| {}), plan.clone())
}

fn insert_serving(
    card: SharedCard,
    port: u16,
    observer: Observer,
    plan: FaultPlan,
) -> io::Result<InsertedCard> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|error| {
        if error.kind() == io::ErrorKind::ConnectionRefused {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!(
                    "nothing listens on 127.0.0.1:{port}: is pcscd running with the vpcd driver \
                     (package vsmartcard-vpcd)?"
                ),
            )
        } else {
            error
        }
    })?;
    stream.set_nodelay(true)?;
    let reader = stream.try_clone()?;
    let attached = stream.try_clone()?;
    plan.attach(attached.try_clone()?);
    let serving = Arc::new(AtomicBool::new(true));
    let thread_serving = Arc::clone(&serving);
    let left_at = Arc::new(Mutex::new(None));
    let thread_left_at = Arc::clone(&left_at);
    let thread = std::thread::Builder::new()
        .name(format!("vpcd-{port}"))
        .spawn(move || {
            let outcome = serve(reader, &card, observer, &plan);
            plan.detach(&attached);
            *thread_left_at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
            thread_serving.store(false, Ordering::SeqCst);
            outcome
        })?;
    Ok(InsertedCard {
        stream,
        serving,
        left_at,
        thread: Some(thread),
    })
}

impl InsertedCard {
    /// True while the connection to vpcd is up.
    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
    }

    /// Pulls the card out: closes the connection, waits for the serving thread, then waits
    /// until [`REMOVAL_SETTLE_TIME`] has passed since the card left (now, or earlier if vpcd
    /// or a fault closed the connection) so that pcscd sees the slot empty before anything is
    /// inserted again (a card put back between two of pcscd's polls looks like the old card,
    /// reset, and the next transmit fails).
    pub fn remove(mut self) {
        self.close();
    }

    /// Pulls the card out without waiting for pcscd to notice: a card inserted right after
    /// (in the same slot) is what a user's quick swap looks like to pcscd, the same card reset
    /// or another card, between two of its polls.
    pub fn pull_out_now(mut self) {
        self.disconnect();
    }

    fn disconnect(&mut self) -> bool {
        let Some(thread) = self.thread.take() else {
            return false;
        };
        // Errors here mean the connection is already gone, which is what we want.
        let _ = self.stream.shutdown(Shutdown::Both);
        let _ = thread.join();
        true
    }

    fn close(&mut self) {
        if !self.disconnect() {
            return;
        }
        let left_at = self
            .left_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or_else(Instant::now);
        std::thread::sleep(REMOVAL_SETTLE_TIME.saturating_sub(left_at.elapsed()));
    }
}

impl Drop for InsertedCard {
    fn drop(&mut self) {
        self.close();
    }
}

/// Serves frames until vpcd, [`InsertedCard::remove`] or a fault closes the connection.
fn serve(
    mut stream: TcpStream,
    card: &SharedCard,
    mut observer: Observer,
    plan: &FaultPlan,
) -> io::Result<()> {
    loop {
        acknowledge_quickly(&stream);
        let Some(payload) = read_frame(&mut stream)? else {
            return Ok(());
        };
        // A poisoned lock only means a test thread panicked: keep serving the card state.
        let lock_card = || card.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match payload.as_slice() {
            [POWER_OFF] => {}
            [POWER_ON] | [RESET] => lock_card().power_on(),
            [ATR_REQUEST] => {
                let atr = lock_card().atr();
                write_frame(&mut stream, &atr)?;
            }
            [_] => {} // unknown control code: vpcd expects no answer
            apdu => {
                let faults = plan.command_arrived(apdu);
                if faults.remove_before {
                    return pull_out(&stream);
                }
                let answer = {
                    let mut card = lock_card();
                    if faults.reset_before {
                        card.power_on();
                    }
                    match faults.status_word {
                        Some(sw) => sw.to_be_bytes().to_vec(),
                        None => card.transmit(apdu),
                    }
                };
                if faults.remove_during {
                    return pull_out(&stream);
                }
                observer(apdu, &answer);
                // Slow card: the lock is free meanwhile, so the test can look at the card.
                std::thread::sleep(faults.delay);
                write_frame(&mut stream, &answer)?;
                if plan.answered() {
                    return pull_out(&stream);
                }
            }
        }
    }
}

/// Ends the connection from the card's side: vpcd sees the card gone.
fn pull_out(stream: &TcpStream) -> io::Result<()> {
    match stream.shutdown(Shutdown::Both) {
        Ok(()) => Ok(()),
        // Already closed by vpcd: the card is out all the same.
        Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
        Err(error) => Err(error),
    }
}

/// Asks Linux to acknowledge the next segments at once. vpcd sends a frame's length and its payload
/// in two writes, so with delayed ACKs (and Nagle on vpcd's side) each APDU would wait ~40 ms. The
/// kernel clears the flag after a while, hence a call before every read. Speed only: errors ignored.
fn acknowledge_quickly(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(stream).set_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

/// One frame, or `None` at a clean end of stream.
fn read_frame(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 2];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ) =>
        {
            return Ok(None)
        }
        Err(error) => return Err(error),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut payload)?;
    Ok(Some(payload))
}

fn write_frame(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let length = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 65535"))?;
    let mut frame = length.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{shared, Holder, VirtualCard};
    use std::net::TcpListener;

    /// Plays vpcd's side over a local socket: the frames the card answers are checked byte by
    /// byte, without pcscd.
    #[test]
    fn serves_atr_requests_and_apdus_like_vpcd_expects() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let card = shared(VirtualCard::cps3(Holder::Dupont));
        let inserted = insert(Arc::clone(&card), port).unwrap();
        let (mut vpcd, _) = listener.accept().unwrap();

        write_frame(&mut vpcd, &[POWER_ON]).unwrap();
        write_frame(&mut vpcd, &[ATR_REQUEST]).unwrap();
        let atr = read_frame(&mut vpcd).unwrap().unwrap();
        assert_eq!(atr, card.lock().unwrap().atr());

        write_frame(
            &mut vpcd,
            &[0x00, 0xA4, 0x09, 0x04, 0x04, 0x3F, 0x00, 0xD0, 0x03],
        )
        .unwrap();
        assert_eq!(read_frame(&mut vpcd).unwrap().unwrap(), [0x61, 0x27]);
        write_frame(&mut vpcd, &[0x00, 0xC0, 0x00, 0x00, 0x27]).unwrap();
        let fcp = read_frame(&mut vpcd).unwrap().unwrap();
        assert_eq!(fcp.len(), 0x27 + 2);
        assert_eq!(&fcp[0x27..], [0x90, 0x00]);
        assert!(inserted.is_serving());

        inserted.remove();
        let mut rest = Vec::new();
        assert_eq!(
            vpcd.read_to_end(&mut rest).unwrap(),
            0,
            "socket closed on removal"
        );
        assert_eq!(card.lock().unwrap().apdu_log().len(), 2);
    }

    #[test]
    fn vpcd_closing_the_connection_ends_the_serving_thread() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let inserted = insert(shared(VirtualCard::cps3(Holder::Martin)), port).unwrap();
        let (vpcd, _) = listener.accept().unwrap();
        drop(vpcd);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while inserted.is_serving() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!inserted.is_serving());
    }

    #[test]
    fn a_closed_port_gives_a_clear_error() {
        // Bind then drop to get a port nobody listens on.
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = insert(shared(VirtualCard::cps3(Holder::Dupont)), port)
            .err()
            .map(|error| (error.kind(), error.to_string()));
        let (kind, message) = error.unwrap();
        assert_eq!(kind, io::ErrorKind::ConnectionRefused);
        assert!(message.contains("vpcd"), "{message}");
    }
}
