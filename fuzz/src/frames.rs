//! Target (a): the frame reader fed an arbitrary byte stream, frame after frame until it ends or
//! breaks, through a reader that delivers the stream in uneven pieces as a pipe does.

use std::io::{self, Read};

use cpx_connect::protocol::framing::{read_frame, write_frame, FrameError, MAX_FRAME};

/// Hands out its bytes in pieces of 1 to 64 bytes and is now and then interrupted (`EINTR`),
/// both decided by a small generator seeded from the input, so every run is reproducible.
pub struct ChoppyReader<'a> {
    data: &'a [u8],
    position: usize,
    state: u32,
}

impl<'a> ChoppyReader<'a> {
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        ChoppyReader {
            data,
            position: 0,
            state: u32::from(seed),
        }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    fn roll(&mut self) -> usize {
        // A linear congruential generator: plenty for choosing piece sizes.
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (self.state >> 16) as usize
    }
}

impl Read for ChoppyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let roll = self.roll();
        if roll.is_multiple_of(7) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let rest = self.data.get(self.position..).unwrap_or_default();
        let count = rest.len().min(buf.len()).min(1 + roll % 64);
        buf[..count].copy_from_slice(&rest[..count]);
        self.position += count;
        Ok(count)
    }
}

/// Byte 0 seeds the piece sizes; the rest is the stream from the browser.
pub fn run(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let mut reader = ChoppyReader::new(stream, seed);
    loop {
        let start = reader.position();
        let rest = &stream[start..];
        let declared = rest
            .get(..4)
            .map(|bytes| u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize);
        match read_frame(&mut reader) {
            Ok(Some(frame)) => {
                let declared = declared.expect("a frame was read, so its length was there");
                assert!(declared <= MAX_FRAME, "accepted a {declared}-byte frame");
                assert_eq!(frame.as_slice(), &rest[4..4 + declared], "frame body");
                assert_eq!(
                    reader.position(),
                    start + 4 + declared,
                    "the reader must stop exactly at the end of the frame"
                );
                // What the host reads, it writes back identically.
                let mut written = Vec::new();
                write_frame(&mut written, &frame).expect("a frame of at most 1 MiB is written");
                assert_eq!(written.as_slice(), &rest[..4 + declared]);
            }
            Ok(None) => {
                assert!(
                    rest.is_empty(),
                    "a clean end reported with {} bytes left",
                    rest.len()
                );
                return;
            }
            Err(FrameError::TooLarge(length)) => {
                assert_eq!(Some(length), declared.map(|d| d as u64));
                assert!(length > MAX_FRAME as u64, "refused a {length}-byte frame");
                assert_eq!(
                    reader.position(),
                    start + 4,
                    "an oversized frame is refused without reading its body"
                );
                return;
            }
            Err(FrameError::Truncated) => {
                let complete = declared.is_some_and(|d| rest.len() >= 4 + d);
                assert!(!complete, "a complete frame reported as truncated");
                assert!(
                    !rest.is_empty(),
                    "an empty rest is a clean end, not a truncation"
                );
                return;
            }
            Err(FrameError::Io(error)) => panic!("an in-memory stream cannot fail: {error}"),
        }
    }
}
