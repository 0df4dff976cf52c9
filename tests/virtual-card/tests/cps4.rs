//! Byte-level tests of the virtual CPS4: logical channel 1, the PKI applet, PIN tries, and the
//! login signature by chained PSO DECIPHER, checked with RSA against the fixture certificate.

mod common;

use common::{collect, hex, public_key, send, split, sw, SHA256_DIGEST_INFO_PREFIX};
use cpx_virtual_card::{cps4, Holder, VirtualCard};
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};

const SELECT_APPLET: &str = "01A4040C08 8025000001FF0100";
const SELECT_PKCS15_APPLICATION: &str = "01A4040C0D E828BD080F8025000001FF0010";
const PIN_1234: &str = "0120000108 31323334FFFFFFFF";
const PIN_9999: &str = "0120000108 39393939FFFFFFFF";
const PIN_STATUS: &str = "01200001";
const MSE_DECIPHER: &str = "012241B803 830120";

/// A CPS4 with the applet selected on channel 1, the PKCS#15 application current.
fn card_in_application(holder: Holder) -> VirtualCard {
    let mut card = VirtualCard::cps4(holder).with_t0_answers();
    assert_eq!(sw(&send(&mut card, SELECT_APPLET)), 0x9000);
    assert_eq!(sw(&send(&mut card, SELECT_PKCS15_APPLICATION)), 0x9000);
    card
}

/// The DER DigestInfo of a SHA-256 digest, what RSASSA-PKCS1-v1_5 signs.
fn digest_info(digest: &[u8]) -> Vec<u8> {
    let mut digest_info = hex(SHA256_DIGEST_INFO_PREFIX);
    digest_info.extend_from_slice(digest);
    digest_info
}

/// `00 01 FF.. 00 DigestInfo(SHA-256) digest`, 256 bytes.
fn signature_block(digest: &[u8]) -> Vec<u8> {
    let digest_info = digest_info(digest);
    let mut block = vec![0x00, 0x01];
    block.resize(256 - digest_info.len() - 1, 0xFF);
    block.push(0x00);
    block.extend(digest_info);
    block
}

/// Sends `block` as PSO DECIPHER in parts of `part` bytes, CLA 11 then 01 for the last part;
/// returns the last part's answer.
fn decipher_chained(card: &mut VirtualCard, block: &[u8], part: usize) -> Vec<u8> {
    let parts: Vec<&[u8]> = block.chunks(part).collect();
    let (last, leading) = parts.split_last().unwrap();
    for piece in leading {
        let mut apdu = vec![0x11, 0x2A, 0x80, 0x86, piece.len() as u8];
        apdu.extend_from_slice(piece);
        assert_eq!(sw(&card.transmit(&apdu)), 0x9000, "intermediate part");
    }
    // Under T=0 the last part, case 4, goes without Le.
    let mut apdu = vec![0x01, 0x2A, 0x80, 0x86, last.len() as u8];
    apdu.extend_from_slice(last);
    card.transmit(&apdu)
}

#[test]
fn answers_to_reset_with_the_production_cps4_atr() {
    let card = VirtualCard::cps4(Holder::Dupont);
    assert_eq!(card.atr(), hex("3B9B1880010012250064800401000090 44"));
    assert_eq!(card.atr(), cps4::ATR);
    // Answering as a T=0 card, it shows the CPS4 ATR that offers T=0 only (TD1 = 00).
    let card = VirtualCard::cps4(Holder::Dupont).with_t0_answers();
    assert_eq!(card.atr(), hex("3BDC18FF0000122500648000040100 9000"));
    assert!(card.is_cps4());
    assert!(!VirtualCard::cps3(Holder::Dupont).is_cps4());
    assert_ne!(
        card.icc_serial(),
        VirtualCard::cps3(Holder::Dupont).icc_serial(),
        "a CPS4 and a CPS3 are two cards"
    );
}

#[test]
fn channel_one_is_closed_until_the_applet_is_selected_on_it() {
    let mut card = VirtualCard::cps4(Holder::Dupont).with_t0_answers();
    assert!(!card.pki_channel_open());
    assert_eq!(sw(&send(&mut card, "01B000000C")), 0x6881);
    assert_eq!(sw(&send(&mut card, "01A4000C02 D003")), 0x6881);
    assert_eq!(sw(&send(&mut card, PIN_STATUS)), 0x6881);
    // Another AID does not open it.
    assert_eq!(sw(&send(&mut card, "01A4040C07 A0000001510000")), 0x6A82);
    assert!(!card.pki_channel_open());
    // Channels 2 and 3 do not exist.
    assert_eq!(sw(&send(&mut card, "02A4040C08 8025000001FF0100")), 0x6881);

    assert_eq!(send(&mut card, SELECT_APPLET), [0x90, 0x00]);
    assert!(card.pki_channel_open());
    assert_eq!(send(&mut card, "01A4000C02 D003"), [0x90, 0x00]);
    assert_eq!(
        send(&mut card, "01B000000C"),
        hex("5A0A 8025000001 4000012345 9000")
    );
}

#[test]
fn the_basic_channel_has_no_application() {
    let mut card = VirtualCard::cps4(Holder::Dupont).with_t0_answers();
    // The CPS2ter is absent, and the PKI applet is offered on channel 1 only.
    assert_eq!(sw(&send(&mut card, "00A4040C08 8025000001FF0002")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00A4040C08 8025000001FF0100")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00A4000C02 3F00")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00B000000C")), 0x6D00);
    // CPS2ter commands (CLA A0) and other classes are refused.
    assert_eq!(sw(&send(&mut card, "A0A4000002 3F00")), 0x6E00);
    assert_eq!(sw(&send(&mut card, "81A4040C08 8025000001FF0100")), 0x6E00);
    assert_eq!(sw(&send(&mut card, "0DA4040C08 8025000001FF0100")), 0x6E00);
    assert!(!card.pki_channel_open());
}

#[test]
fn the_cryptolib_fallback_sequence_ends_with_the_applet_selected() {
    // What card-cps4.c sends when the first applet selection fails: the ISD on channel 1, the
    // CPS2ter on channel 0, the applet on channel 1.
    let mut card = VirtualCard::cps4(Holder::Martin).with_t0_answers();
    assert_eq!(sw(&send(&mut card, "01A4040C07 A0000001510000")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00A4040C08 8025000001FF0002")), 0x6A82);
    assert_eq!(sw(&send(&mut card, SELECT_APPLET)), 0x9000);
    assert_eq!(sw(&send(&mut card, "01A4000C02 D003")), 0x9000);
    let (serial, status) = split(&send(&mut card, "01B000000C"));
    assert_eq!(status, 0x9000);
    assert_eq!(serial[7..], card.icc_serial());
}

#[test]
fn manage_channel_opens_and_closes_channel_one() {
    let mut card = VirtualCard::cps4(Holder::Dupont).with_t0_answers();
    assert_eq!(send(&mut card, "0070000001"), [0x01, 0x90, 0x00]);
    assert!(card.pki_channel_open());
    // Open, but no application selected yet.
    assert_eq!(sw(&send(&mut card, "01B000000C")), 0x6985);
    assert_eq!(sw(&send(&mut card, "01A4040C07 A0000001510000")), 0x6A82);
    assert_eq!(sw(&send(&mut card, SELECT_APPLET)), 0x9000);
    // No second channel to give.
    assert_eq!(sw(&send(&mut card, "0070000001")), 0x6A81);
    assert_eq!(send(&mut card, "01708000"), [0x90, 0x00]);
    assert!(!card.pki_channel_open());
    assert_eq!(sw(&send(&mut card, "01B000000C")), 0x6881);
    // Opening by number, closing from the basic channel.
    assert_eq!(send(&mut card, "00700001"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00708001"), [0x90, 0x00]);
    assert!(!card.pki_channel_open());
    assert_eq!(sw(&send(&mut card, "00700002")), 0x6A86);
}

#[test]
fn a_reset_closes_channel_one_and_forgets_the_pin() {
    let mut card = card_in_application(Holder::Dupont);
    assert_eq!(sw(&send(&mut card, PIN_1234)), 0x9000);
    card.power_on();
    assert!(!card.pki_channel_open());
    assert!(!card.pin_verified());
    assert_eq!(sw(&send(&mut card, PIN_STATUS)), 0x6881);
}

#[test]
fn reselecting_the_applet_clears_the_pin_verification() {
    let mut card = card_in_application(Holder::Dupont);
    assert_eq!(sw(&send(&mut card, PIN_1234)), 0x9000);
    assert_eq!(sw(&send(&mut card, PIN_STATUS)), 0x9000);
    assert_eq!(sw(&send(&mut card, SELECT_APPLET)), 0x9000);
    assert!(!card.pin_verified());
    assert_eq!(sw(&send(&mut card, PIN_STATUS)), 0x63C3);
}

#[test]
fn files_are_reached_by_file_id_and_by_relative_path_as_the_cryptolib_does() {
    let mut card = VirtualCard::cps4(Holder::Dupont).with_t0_answers();
    send(&mut card, SELECT_APPLET);
    // EF.DIR by file id from the MF, with its FCP.
    let first = send(&mut card, "01A4000402 2F00");
    let fcp = collect(&mut card, 0x01, &first);
    assert_eq!(fcp[..6], [0x62, fcp[1], 0x80, 0x02, 0x00, 0x1C]);
    let (ef_dir, status) = split(&send(&mut card, "01B000001C"));
    assert_eq!(status, 0x9000);
    assert_eq!(ef_dir, cpx_virtual_card::pkcs15::ef_dir_with_path());
    // The ODF by a stripped path (P1 09, one file id) fails from the MF; the Cryptolib then
    // selects the application DF and tries again.
    assert_eq!(sw(&send(&mut card, "01A4090402 5031")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "01A4000C02 0001")), 0x9000);
    let first = send(&mut card, "01A4090402 5031");
    let fcp = collect(&mut card, 0x01, &first);
    assert_eq!(fcp[2..6], [0x80, 0x02, 0x00, 0x40]);
    // A certificate file is read 256 bytes at a time.
    assert_eq!(sw(&send(&mut card, "01A4000C02 6F41")), 0x9000);
    let (chunk, status) = split(&send(&mut card, "01B0000000"));
    assert_eq!(status, 0x9000);
    assert_eq!(chunk.len(), 256);
    assert_eq!(chunk[..], card.auth_certificate_der()[..256]);
}

/// A PrKDF entry (ISO 7816-15 PrivateKeyObject), decoded only as far as the key reference.
#[derive(der::Sequence)]
struct PrivateKeyObject {
    common: der::Any,
    key: CommonKeyAttributes,
    type_attributes: der::Any,
}

#[derive(der::Sequence)]
struct CommonKeyAttributes {
    id: der::asn1::OctetString,
    usage: der::asn1::BitString,
    #[asn1(optional = "true")]
    native: Option<bool>,
    #[asn1(optional = "true")]
    access_flags: Option<der::asn1::BitString>,
    #[asn1(optional = "true")]
    key_reference: Option<u32>,
}

#[test]
fn the_prkdf_names_the_cps4_key_references() {
    let mut card = card_in_application(Holder::Dupont);
    let first = send(&mut card, "01A4000402 6F11");
    let fcp = collect(&mut card, 0x01, &first);
    assert_eq!(fcp[2..6], [0x80, 0x02, 0x01, 0x00]);
    let (prkdf, status) = split(&send(&mut card, "01B0000000"));
    assert_eq!(status, 0x9000);
    assert_eq!(prkdf, cps4::prkdf());
    let mut reader = der::SliceReader::new(&prkdf).unwrap();
    let mut keys = Vec::new();
    while der::Reader::peek_byte(&reader) == Some(0x30) {
        let object: PrivateKeyObject = der::Decode::decode(&mut reader).unwrap();
        keys.push((object.key.id.as_bytes().to_vec(), object.key.key_reference));
    }
    assert_eq!(
        keys,
        [
            (vec![0x11], Some(u32::from(cps4::AUTH_KEY_REFERENCE))),
            (vec![0x12], Some(u32::from(cps4::SIGN_KEY_REFERENCE))),
        ]
    );
    assert_eq!(cps4::AUTH_KEY_REFERENCE, 0x20);
}

#[test]
fn pin_tries_are_read_without_spending_one() {
    let mut card = card_in_application(Holder::Dupont);
    assert_eq!(send(&mut card, PIN_STATUS), [0x63, 0xC3]);
    assert_eq!(send(&mut card, PIN_9999), [0x63, 0xC2]);
    assert_eq!(send(&mut card, PIN_STATUS), [0x63, 0xC2]);
    assert_eq!(send(&mut card, PIN_STATUS), [0x63, 0xC2]);
    assert_eq!(card.pin_tries_left(), 2);
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    assert_eq!(send(&mut card, PIN_STATUS), [0x90, 0x00]);
    assert_eq!(card.pin_tries_left(), 3);
    assert_eq!(card.verify_count(), 2, "status queries are not counted");
}

#[test]
fn three_wrong_pins_block_the_pin_with_6983() {
    let mut card = card_in_application(Holder::Dupont);
    assert_eq!(send(&mut card, PIN_9999), [0x63, 0xC2]);
    assert_eq!(send(&mut card, PIN_9999), [0x63, 0xC1]);
    assert_eq!(send(&mut card, PIN_9999), [0x63, 0xC0]);
    assert_eq!(send(&mut card, PIN_STATUS), [0x69, 0x83]);
    assert_eq!(send(&mut card, PIN_1234), [0x69, 0x83]);
    assert!(!card.pin_verified());
    let mut blocked = VirtualCard::cps4(Holder::Dupont)
        .with_t0_answers()
        .with_pin_tries_left(0);
    send(&mut blocked, SELECT_APPLET);
    assert_eq!(send(&mut blocked, PIN_STATUS), [0x69, 0x83]);
}

#[test]
fn the_login_signature_verifies_with_the_fixture_certificate() {
    for holder in [Holder::Dupont, Holder::Martin] {
        let mut card = card_in_application(holder).with_pin("4321");
        assert_eq!(sw(&send(&mut card, "0120000108 34333231FFFFFFFF")), 0x9000);
        assert_eq!(send(&mut card, MSE_DECIPHER), [0x90, 0x00]);
        let digest = Sha256::digest(b"SHA-256(origin) || SHA-256(nonce)");
        let answer = decipher_chained(&mut card, &signature_block(&digest), 255);
        assert_eq!(answer, [0x61, 0x00], "256 bytes wait for GET RESPONSE");
        let (signature, status) = split(&send(&mut card, "01C0000000"));
        assert_eq!(status, 0x9000);
        assert_eq!(signature.len(), 256);
        public_key(card.auth_certificate_der())
            .verify(
                Pkcs1v15Sign::new_unprefixed(),
                &digest_info(&digest),
                &signature,
            )
            .expect("RSASSA-PKCS1-v1_5 signature of the authentication key");
        assert!(public_key(card.sign_certificate_der())
            .verify(
                Pkcs1v15Sign::new_unprefixed(),
                &digest_info(&digest),
                &signature
            )
            .is_err());
    }
}

#[test]
fn the_chain_may_be_cut_anywhere_and_get_response_stays_on_channel_one() {
    let mut card = card_in_application(Holder::Dupont);
    send(&mut card, PIN_1234);
    send(&mut card, MSE_DECIPHER);
    let digest = [0x42; 32];
    let answer = decipher_chained(&mut card, &signature_block(&digest), 100);
    // GET RESPONSE on the basic channel does not see channel 1's data, and loses it.
    assert_eq!(sw(&answer), 0x6100);
    assert_eq!(sw(&send(&mut card, "00C0000000")), 0x6D00);
    assert_eq!(sw(&send(&mut card, "01C00000E7")), 0x6985);

    let answer = decipher_chained(&mut card, &signature_block(&digest), 128);
    let signature = collect(&mut card, 0x01, &answer);
    public_key(card.auth_certificate_der())
        .verify(
            Pkcs1v15Sign::new_unprefixed(),
            &digest_info(&digest),
            &signature,
        )
        .unwrap();
}

#[test]
fn a_block_that_is_not_type_01_padded_is_refused() {
    let mut card = card_in_application(Holder::Dupont);
    send(&mut card, PIN_1234);
    send(&mut card, MSE_DECIPHER);
    let good = signature_block(&[0x17; 32]);
    let mut type_02 = good.clone();
    type_02[1] = 0x02;
    let mut short_padding = vec![0x00, 0x01];
    short_padding.extend([0xFF; 7]);
    short_padding.push(0x00);
    short_padding.resize(256, 0xAB);
    let mut no_separator = good.clone();
    no_separator[204] = 0xFF;
    let mut leading_byte = good.clone();
    leading_byte[0] = 0x01;
    for bad in [type_02, short_padding, no_separator, leading_byte] {
        assert_eq!(sw(&decipher_chained(&mut card, &bad, 255)), 0x6A80);
    }
    // The raw DigestInfo, which a CPS3 would pad itself: wrong length for this card.
    let mut digest_info = hex(SHA256_DIGEST_INFO_PREFIX);
    digest_info.extend([0x17; 32]);
    assert_eq!(sw(&decipher_chained(&mut card, &digest_info, 255)), 0x6700);
    // Too long a chain.
    let mut long = good.clone();
    long.push(0x00);
    assert_eq!(sw(&decipher_chained(&mut card, &long[..255], 255)), 0x6700);
    let mut apdu = hex("112A8086FF");
    apdu.extend(&long[..255]);
    assert_eq!(sw(&card.transmit(&apdu)), 0x9000);
    let mut apdu = hex("012A808602");
    apdu.extend(&long[255..]);
    assert_eq!(sw(&card.transmit(&apdu)), 0x6700);
    // The good block still works afterwards.
    assert_eq!(sw(&decipher_chained(&mut card, &good, 255)), 0x6100);
}

#[test]
fn decipher_needs_the_pin_and_the_security_environment() {
    let block = signature_block(&[0x01; 32]);
    let mut card = card_in_application(Holder::Dupont);
    assert_eq!(sw(&decipher_chained(&mut card, &block, 255)), 0x6985);
    send(&mut card, MSE_DECIPHER);
    assert_eq!(sw(&decipher_chained(&mut card, &block, 255)), 0x6982);
    send(&mut card, PIN_1234);
    // Selecting another DF erases the security environment.
    assert_eq!(sw(&send(&mut card, "01A4000C02 3F00")), 0x9000);
    assert_eq!(sw(&decipher_chained(&mut card, &block, 255)), 0x6985);
    // The key is an object of the application DF.
    assert_eq!(sw(&send(&mut card, MSE_DECIPHER)), 0x6A88);
    assert_eq!(sw(&send(&mut card, SELECT_PKCS15_APPLICATION)), 0x9000);
    assert_eq!(sw(&send(&mut card, MSE_DECIPHER)), 0x9000);
    assert_eq!(sw(&decipher_chained(&mut card, &block, 255)), 0x6100);
}

#[test]
fn an_interrupted_chain_is_dropped() {
    let block = signature_block(&[0x02; 32]);
    let mut card = card_in_application(Holder::Dupont);
    send(&mut card, PIN_1234);
    send(&mut card, MSE_DECIPHER);
    let mut first = hex("112A8086FF");
    first.extend(&block[..255]);
    assert_eq!(sw(&card.transmit(&first)), 0x9000);
    assert_eq!(sw(&send(&mut card, PIN_STATUS)), 0x9000);
    let mut last = hex("012A808601");
    last.push(block[255]);
    assert_eq!(
        sw(&card.transmit(&last)),
        0x6700,
        "only the last part arrived"
    );
}

#[test]
fn the_cps3_commands_and_other_chains_are_refused() {
    let mut card = card_in_application(Holder::Dupont);
    send(&mut card, PIN_1234);
    // The CPS3's MSE for INTERNAL AUTHENTICATE, INTERNAL AUTHENTICATE, GET DATA.
    assert_eq!(sw(&send(&mut card, "012241A406 800102 840182")), 0x6A86);
    let mut internal_authenticate = hex("0188000033");
    internal_authenticate.extend(hex(SHA256_DIGEST_INFO_PREFIX));
    internal_authenticate.extend([0x00; 32]);
    assert_eq!(sw(&card.transmit(&internal_authenticate)), 0x6D00);
    assert_eq!(
        sw(&send(&mut card, "01CB3FFF0A 4D087006BF810102A080")),
        0x6D00
    );
    // Document signature is not implemented on this profile.
    assert_eq!(
        sw(&send(
            &mut card,
            "012A9E9A20 0000000000000000000000000000000000000000000000000000000000000000"
        )),
        0x6A86
    );
    // MSE for another key, or malformed.
    assert_eq!(sw(&send(&mut card, "012241B803 830121")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "012241B803 840120")), 0x6A80);
    // The chaining bit on anything but PSO DECIPHER.
    assert_eq!(sw(&send(&mut card, "11B000000C")), 0x6884);
    assert_eq!(sw(&send(&mut card, "1120000108 31323334FFFFFFFF")), 0x6884);
}

#[test]
fn by_default_the_cps4_answers_as_a_t1_card() {
    let mut card = VirtualCard::cps4(Holder::Dupont);
    assert!(card.answers_t1());
    assert_eq!(sw(&send(&mut card, SELECT_APPLET)), 0x9000);
    // A SELECT asking for the FCP needs Le under T=1, and the FCP comes with 90 00 at once.
    assert_eq!(send(&mut card, "01A4000402 2F00"), [0x67, 0x00]);
    let (fcp, status) = split(&send(&mut card, "01A4000402 2F00 00"));
    assert_eq!(status, 0x9000);
    assert_eq!(fcp[0], 0x62);
    assert_eq!(
        sw(&send(&mut card, "01C0000010")),
        0x6985,
        "nothing for GET RESPONSE"
    );
    // A SELECT without FCP and a READ BINARY are unchanged.
    assert_eq!(sw(&send(&mut card, "01A4000C02 2F00")), 0x9000);
    assert_eq!(send(&mut card, "01B0000000"), [0x6C, 0x1C]);
    let (ef_dir, status) = split(&send(&mut card, "01B000001C"));
    assert_eq!((ef_dir.len(), status), (0x1C, 0x9000));
    // Le smaller than the answer: 6C with the exact length.
    let answer = send(&mut card, "01A4000402 2F00 05");
    assert_eq!(answer[0], 0x6C);
}

#[test]
fn under_t0_a_case_4_command_with_le_is_refused_as_a_t0_line_refuses_it() {
    let mut card = card_in_application(Holder::Dupont);
    send(&mut card, PIN_1234);
    send(&mut card, MSE_DECIPHER);
    let block = signature_block(&[0x09; 32]);
    let mut first = hex("112A8086FF");
    first.extend(&block[..255]);
    assert_eq!(sw(&card.transmit(&first)), 0x9000);
    let mut last = hex("012A808601");
    last.push(block[255]);
    last.push(0x00);
    assert_eq!(card.transmit(&last), [0x67, 0x00]);
    assert_eq!(send(&mut card, "01A40004 02 5031 00"), [0x67, 0x00]);
    assert_eq!(sw(&send(&mut card, "01A40004 02 5031")) >> 8, 0x61);
    // The lenient card takes Le.
    let mut lenient = VirtualCard::cps4(Holder::Dupont)
        .with_t0_answers()
        .with_lenient_t0();
    assert_eq!(sw(&send(&mut lenient, SELECT_APPLET)), 0x9000);
    assert_eq!(sw(&send(&mut lenient, SELECT_PKCS15_APPLICATION)), 0x9000);
    assert_eq!(sw(&send(&mut lenient, "01A40004 02 5031 00")) >> 8, 0x61);
}
