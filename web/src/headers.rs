//! The security headers every answer of a relying-party service carries.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};

/// Own scripts and styles only, never framed (clickjacking a login button), forms posted only
/// to this origin.
pub const CONTENT_SECURITY_POLICY_VALUE: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Sets the content security policy, no sniffing, no framing, a same-origin referrer, HSTS with
/// `hsts_max_age` seconds, and `Cache-Control: no-store` unless the answer set its own.
pub fn apply_security_headers(headers: &mut HeaderMap, hsts_max_age: u64) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // HTTPS only from now on for this host: a man in the middle cannot answer a plain-HTTP
    // request of the victim's browser (and plant a cookie) after the first visit.
    if let Ok(value) = HeaderValue::from_str(&format!("max-age={hsts_max_age}")) {
        headers.insert(STRICT_TRANSPORT_SECURITY, value);
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_s_own_cache_control_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        apply_security_headers(&mut headers, 60);
        assert_eq!(
            headers.get(CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-cache"[..])
        );
        assert_eq!(
            headers.get(STRICT_TRANSPORT_SECURITY).map(|v| v.as_bytes()),
            Some(&b"max-age=60"[..])
        );
        let csp = headers
            .get(CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
