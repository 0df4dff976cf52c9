//! Random tokens (session ids, CSRF tokens, codes), their comparison, and a form's CSRF check.

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

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Whether the URL-encoded form `body` carries `expected` as its `csrf` field, compared in
/// constant time. A body that is not such a form (or names `csrf` twice) does not, and nothing
/// matches an empty `expected`: a record without a token accepts no form.
pub fn form_carries_csrf(body: &[u8], expected: &str) -> bool {
    !expected.is_empty()
        && serde_urlencoded::from_bytes::<CsrfField>(body)
            .is_ok_and(|field| constant_time_eq(&field.csrf, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_carries_its_csrf_token_or_nothing_matches() {
        let token = "tok-en_1";
        assert!(form_carries_csrf(b"csrf=tok-en_1", token));
        assert!(form_carries_csrf(b"pin=no&csrf=tok-en_1&x=1", token));
        assert!(!form_carries_csrf(b"csrf=tok-en_2", token));
        assert!(!form_carries_csrf(b"x=1", token));
        assert!(!form_carries_csrf(b"", token));
        assert!(!form_carries_csrf(b"csrf=tok-en_1&csrf=tok-en_1", token));
        assert!(!form_carries_csrf(&[0xFF, 0xFE], token));
        assert!(!form_carries_csrf(b"csrf=", ""));
        assert!(!form_carries_csrf(b"", ""));
    }

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
