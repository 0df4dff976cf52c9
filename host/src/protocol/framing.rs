//! Native messaging frames: a 4-byte length in native byte order, then that many bytes of UTF-8 JSON.

use std::io::{self, Read, Write};

use byteorder::{NativeEndian, ReadBytesExt, WriteBytesExt};
use zeroize::Zeroizing;

/// The largest frame accepted or written (Chrome's limit for messages to the browser).
pub const MAX_FRAME: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the 1 MiB limit")]
    TooLarge(u64),
    #[error("input ended inside a frame")]
    Truncated,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Reads one frame. `Ok(None)` at a clean end of input (between frames). The buffer is wiped when
/// dropped, since a frame may carry a PIN.
pub fn read_frame(input: &mut impl Read) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError> {
    let mut length_bytes = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        match input.read(&mut length_bytes[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let length = (&length_bytes[..]).read_u32::<NativeEndian>()?;
    let length = usize::try_from(length).map_err(|_| FrameError::TooLarge(u64::from(length)))?;
    if length > MAX_FRAME {
        return Err(FrameError::TooLarge(length as u64));
    }
    let mut payload = Zeroizing::new(vec![0u8; length]);
    input
        .read_exact(&mut payload)
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(error),
        })?;
    Ok(Some(payload))
}

/// Writes one frame and flushes it, so the browser sees it at once.
pub fn write_frame(output: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(payload.len() as u64));
    }
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.write_u32::<NativeEndian>(payload.len() as u32)?;
    frame.extend_from_slice(payload);
    output.write_all(&frame)?;
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn reads_consecutive_frames_then_a_clean_end() {
        let mut input = framed(b"{\"a\":1}");
        input.extend(framed(b"[]"));
        let mut reader = input.as_slice();
        assert_eq!(
            read_frame(&mut reader).unwrap().unwrap().as_slice(),
            b"{\"a\":1}"
        );
        assert_eq!(read_frame(&mut reader).unwrap().unwrap().as_slice(), b"[]");
        assert!(read_frame(&mut reader).unwrap().is_none());
    }

    #[test]
    fn empty_input_is_a_clean_end() {
        assert!(read_frame(&mut &b""[..]).unwrap().is_none());
    }

    #[test]
    fn an_empty_frame_is_read_as_empty() {
        assert_eq!(read_frame(&mut &framed(b"")[..]).unwrap().unwrap().len(), 0);
    }

    #[test]
    fn truncated_length_or_body_is_an_error() {
        assert!(matches!(
            read_frame(&mut &[1u8, 0][..]),
            Err(FrameError::Truncated)
        ));
        let mut cut = framed(b"{\"id\":1}");
        cut.truncate(7);
        assert!(matches!(
            read_frame(&mut cut.as_slice()),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn oversized_frames_are_refused_without_reading_them() {
        let length = (MAX_FRAME as u32 + 1).to_ne_bytes();
        assert!(matches!(
            read_frame(&mut &length[..]),
            Err(FrameError::TooLarge(n)) if n == MAX_FRAME as u64 + 1
        ));
        assert!(matches!(
            read_frame(&mut &u32::MAX.to_ne_bytes()[..]),
            Err(FrameError::TooLarge(_))
        ));
        // Exactly the limit is fine.
        let mut at_limit = (MAX_FRAME as u32).to_ne_bytes().to_vec();
        at_limit.extend(vec![b' '; MAX_FRAME]);
        assert_eq!(
            read_frame(&mut at_limit.as_slice()).unwrap().unwrap().len(),
            MAX_FRAME
        );
    }

    #[test]
    fn writes_native_endian_length_and_refuses_oversize() {
        let mut output = Vec::new();
        write_frame(&mut output, b"{}").unwrap();
        assert_eq!(output, framed(b"{}"));
        let mut output = Vec::new();
        assert!(matches!(
            write_frame(&mut output, &vec![0u8; MAX_FRAME + 1]),
            Err(FrameError::TooLarge(_))
        ));
        assert!(output.is_empty());
    }

    /// A reader that hands out one byte per call, as a pipe may.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn reads_frames_delivered_byte_by_byte() {
        let input = framed(b"{\"id\":7}");
        let mut reader = Trickle(&input);
        assert_eq!(
            read_frame(&mut reader).unwrap().unwrap().as_slice(),
            b"{\"id\":7}"
        );
        assert!(read_frame(&mut reader).unwrap().is_none());
    }
}
