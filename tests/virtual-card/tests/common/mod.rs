//! What the virtual card's APDU tests share: hex commands, answers split into data and status
//! word, the GET RESPONSE loop a T=0 host runs, and the RSA key a certificate carries.

#![allow(dead_code)] // each test file uses its own part

use cpx_virtual_card::VirtualCard;
use der::{Decode, Encode};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use x509_cert::Certificate;

/// The DigestInfo prefix of a SHA-256 hash (PKCS #1, RFC 8017 section 9.2).
pub const SHA256_DIGEST_INFO_PREFIX: &str = "3031300D060960864801650304020105000420";

pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

pub fn send(card: &mut VirtualCard, apdu: &str) -> Vec<u8> {
    card.transmit(&hex(apdu))
}

/// Splits a response into (data, SW).
pub fn split(response: &[u8]) -> (Vec<u8>, u16) {
    assert!(response.len() >= 2, "response without status word");
    let (data, sw) = response.split_at(response.len() - 2);
    (data.to_vec(), u16::from_be_bytes([sw[0], sw[1]]))
}

pub fn sw(response: &[u8]) -> u16 {
    split(response).1
}

/// Follows `61 xx` with GET RESPONSE of class `cla` (the channel) until 90 00, the way a T=0
/// host does.
pub fn collect(card: &mut VirtualCard, cla: u8, first: &[u8]) -> Vec<u8> {
    let (mut data, mut status) = split(first);
    while status >> 8 == 0x61 {
        let answer = card.transmit(&[cla, 0xC0, 0x00, 0x00, status as u8]);
        let (chunk, next) = split(&answer);
        data.extend_from_slice(&chunk);
        status = next;
    }
    assert_eq!(status, 0x9000, "GET RESPONSE chain ended with {status:04X}");
    data
}

pub fn public_key(certificate_der: &[u8]) -> RsaPublicKey {
    let certificate = Certificate::from_der(certificate_der).unwrap();
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    RsaPublicKey::from_public_key_der(&spki).unwrap()
}
