//! Random tokens (session ids, CSRF tokens, codes) and their comparison.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(left: &str, right: &str) -> bool {
    constant_time_eq_bytes(left.as_bytes(), right.as_bytes())
}

/// [`constant_time_eq`] on bytes (e.g. digests).
pub fn constant_time_eq_bytes(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn tokens_are_43_characters_and_differ() {
        let (first, second) = (random_token(), random_token());
        assert_eq!(first.len(), 43);
        assert_ne!(first, second);
    }
}
