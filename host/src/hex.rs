//! Hex for logs, ATRs and certificate ids (upper case, no separators).

pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_upper_case() {
        assert_eq!(super::encode(&[0x00, 0x3F, 0xA9, 0xFF]), "003FA9FF");
        assert_eq!(super::encode(&[]), "");
    }
}
