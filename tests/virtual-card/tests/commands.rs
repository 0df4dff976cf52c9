//! Byte-level tests of every command the virtual CPS3 answers.

mod common;

use common::{collect, hex, public_key, send, split, sw, SHA256_DIGEST_INFO_PREFIX};
use cpx_virtual_card::{Holder, VirtualCard};
use der::Decode;
use rsa::pkcs1v15::Pkcs1v15Sign;
use x509_cert::Certificate;

const SELECT_EF_SN_ICC: &str = "00A4090404 3F00D003";
const SELECT_APPLICATION: &str = "00A4090C04 3F000001";
const GET_PIN_DOCP: &str = "00CB3FFF0A 4D087006BF810102A080";
const GET_PIN_SIZES: &str = "00CB3FFF0B 4D097007BF8101037F4180";
const MSE_SET_AUTHENTICATION: &str = "0022 41A4 06 800102 840182";
const PIN_1234: &str = "0020000108 31323334FFFFFFFF";

/// Reads the current EF in 0xE7-byte chunks until the card says the offset is past the end.
fn read_whole_file(card: &mut VirtualCard) -> Vec<u8> {
    let mut content = Vec::new();
    loop {
        let offset = content.len() as u16;
        let [hi, lo] = offset.to_be_bytes();
        let answer = card.transmit(&[0x00, 0xB0, hi, lo, 0xE7]);
        match split(&answer) {
            (data, 0x9000) => content.extend_from_slice(&data),
            (_, 0x6B00) => return content,
            (_, status) if status >> 8 == 0x6C => {
                let answer = card.transmit(&[0x00, 0xB0, hi, lo, status as u8]);
                let (data, status) = split(&answer);
                assert_eq!(status, 0x9000);
                content.extend_from_slice(&data);
            }
            (_, status) => panic!("READ BINARY answered {status:04X}"),
        }
    }
}

fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut digest_info = hex(SHA256_DIGEST_INFO_PREFIX);
    digest_info.extend_from_slice(&sha2::Sha256::digest(message));
    digest_info
}

#[test]
fn atr_is_the_cps3_contact_atr() {
    let card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(card.atr(), hex("3BAC00402A001225006480000310009000"));
}

#[test]
fn vendor_trace_of_ef_sn_icc_is_reproduced() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, SELECT_EF_SN_ICC), [0x61, 0x27]);
    let fcp = send(&mut card, "00C0000027");
    assert_eq!(
        fcp,
        hex("6225 8002000C 820101 8302D003 8801E0 A112 8C077BFFFFFFFFFF00 9C077BFFFFFFFFFF00 8A0105 9000")
    );
    let serial = card.icc_serial();
    let mut expected = hex("5A0A8025000001");
    expected.extend_from_slice(&serial);
    expected.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(send(&mut card, "00B000000C"), expected);
}

#[test]
fn the_two_holders_have_distinct_serials_and_certificates() {
    let dupont = VirtualCard::cps3(Holder::Dupont);
    let martin = VirtualCard::cps3(Holder::Martin);
    assert_ne!(dupont.icc_serial(), martin.icc_serial());
    assert_ne!(dupont.auth_certificate_der(), martin.auth_certificate_der());
    assert_ne!(dupont.auth_certificate_der(), dupont.sign_certificate_der());
    let subject = Certificate::from_der(martin.auth_certificate_der())
        .unwrap()
        .tbs_certificate
        .subject
        .to_string();
    assert!(subject.contains("810009876543"), "{subject}");
    assert!(subject.contains("MARTIN"), "{subject}");
}

#[test]
fn select_without_fcp_answers_9000_only() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00A4090C06 3F0000015031"), [0x90, 0x00]);
    // The ODF is now the current EF.
    assert_eq!(
        split(&send(&mut card, "00B0000002")),
        ([0xA0, 0x0A].to_vec(), 0x9000)
    );
}

#[test]
fn select_by_aid() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    let aid = "E828BD080F8025000001FF0010";
    assert_eq!(sw(&send(&mut card, &format!("00A404000D{aid}"))), 0x6A86);
    assert_eq!(send(&mut card, &format!("00A4040C0D{aid}")), [0x90, 0x00]);
    let first = send(&mut card, &format!("00A404040D{aid}"));
    assert_eq!(first, [0x61, 0x2F]);
    let fcp = collect(&mut card, 0x00, &first);
    let mut name = hex("840D");
    name.extend(hex(aid));
    assert!(fcp.windows(name.len()).any(|window| window == name));
    assert_eq!(fcp[..7], hex("622D 820138 8302"));
    // The IAS-ECC root AID selects the MF; an unknown AID is not found.
    assert_eq!(send(&mut card, "00A4040C08 8025000001FF0100"), [0x90, 0x00]);
    assert_eq!(sw(&send(&mut card, "00A4040C05 A000000001")), 0x6A82);
}

#[test]
fn select_by_path_from_mf_and_from_current_df() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    // P1=08: path from the MF, MF omitted.
    assert_eq!(send(&mut card, "00A4080C04 00015032"), [0x90, 0x00]);
    let token_info = read_whole_file(&mut card);
    assert_eq!(token_info[0], 0x30);
    // P1=09 relative to the current DF (the application DF now).
    assert_eq!(send(&mut card, "00A4090C02 5031"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00B0000001"), [0xA0, 0x90, 0x00]);
    // P1=00 with a FID of the current DF, and with 3F00.
    assert_eq!(send(&mut card, "00A4000C02 5032"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00A4000C02 3F00"), [0x90, 0x00]);
    assert_eq!(sw(&send(&mut card, "00A4000C02 5032")), 0x6A82);
    // P1=09 with only 3F00: the MF; then the application by P1=01 (child DF).
    assert_eq!(send(&mut card, "00A4090C02 3F00"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00A4010C02 0001"), [0x90, 0x00]);
    assert_eq!(sw(&send(&mut card, "00A4010C02 5031")), 0x6A82);
}

#[test]
fn select_errors() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(sw(&send(&mut card, "00A4090C04 3F000002")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00A4090C06 3F00D0030001")), 0x6A82);
    assert_eq!(sw(&send(&mut card, "00A4090C03 3F0000")), 0x6700);
    assert_eq!(sw(&send(&mut card, "00A4070C02 3F00")), 0x6A86);
    assert_eq!(sw(&send(&mut card, "00A409FF02 3F00")), 0x6A86);
    assert_eq!(sw(&send(&mut card, "00A4080C")), 0x6700);
    // A failed SELECT leaves the current file alone.
    assert_eq!(send(&mut card, "00A4090C04 3F00D003"), [0x90, 0x00]);
    assert_eq!(sw(&send(&mut card, "00A4090C04 3F00D004")), 0x6A82);
    assert_eq!(
        split(&send(&mut card, "00B0000002")),
        ([0x5A, 0x0A].to_vec(), 0x9000)
    );
}

#[test]
fn fcp_of_a_certificate_gives_its_allocated_size_and_security_attributes() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    // Find the certificate path the PKCS#15 way is tested elsewhere; here: its FCP shape.
    let first = send(&mut card, "00A4090406 3F0000016F41");
    let fcp = collect(&mut card, 0x00, &first);
    assert_eq!(fcp[..6], hex("6222 80020800"));
    assert!(fcp.windows(2).any(|window| window == [0xA1, 0x12]));
    assert_eq!(&fcp[fcp.len() - 3..], [0x8A, 0x01, 0x05]);
}

#[test]
fn read_binary_length_rules() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, "00B0000004"), [0x69, 0x86], "no current EF");
    assert_eq!(send(&mut card, "00A4090C04 3F00D003"), [0x90, 0x00]);
    // Le = 00 means 256, more than the 12 bytes there: 6C 0C.
    assert_eq!(send(&mut card, "00B0000000"), [0x6C, 0x0C]);
    assert_eq!(send(&mut card, "00B0000010"), [0x6C, 0x0C]);
    assert_eq!(send(&mut card, "00B000080A"), [0x6C, 0x04]);
    assert_eq!(split(&send(&mut card, "00B0000804")).1, 0x9000);
    assert_eq!(
        send(&mut card, "00B0000C01"),
        [0x6B, 0x00],
        "offset at the end"
    );
    assert_eq!(
        send(&mut card, "00B0010001"),
        [0x6B, 0x00],
        "offset past the end"
    );
    // More than 0xE7 at once: 6C E7, the CPS3 limit.
    assert_eq!(send(&mut card, "00A4090C06 3F0000016F41"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00B0000000"), [0x6C, 0xE7]);
    assert_eq!(send(&mut card, "00B00000E8"), [0x6C, 0xE7]);
    let (data, status) = split(&send(&mut card, "00B00000E7"));
    assert_eq!((data.len(), status), (0xE7, 0x9000));
    assert_eq!(
        sw(&send(&mut card, "00B0000001 00")),
        0x6700,
        "READ BINARY with data"
    );
}

#[test]
fn read_binary_by_short_file_identifier() {
    let mut card = VirtualCard::cps3(Holder::Martin);
    // SFI 1C = EF.SN.ICC in the MF.
    let (data, status) = split(&send(&mut card, "00B09C000C"));
    assert_eq!(status, 0x9000);
    assert_eq!(&data[7..], card.icc_serial());
    // It became the current EF.
    assert_eq!(
        split(&send(&mut card, "00B0000002")),
        ([0x5A, 0x0A].to_vec(), 0x9000)
    );
    // SFI 1D = EF.ATR, read from offset 1.
    assert_eq!(
        split(&send(&mut card, "00B09D0102")),
        ([0x43, 0x01].to_vec(), 0x9000)
    );
    assert_eq!(sw(&send(&mut card, "00B0810001")), 0x6A82);
}

#[test]
fn certificate_files_hold_the_certificates_then_zero_padding() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, "00A4090C06 3F0000016F41"), [0x90, 0x00]);
    let file = read_whole_file(&mut card);
    let certificate = card.auth_certificate_der().to_vec();
    assert_eq!(file.len(), 0x800);
    assert_eq!(&file[..certificate.len()], certificate);
    assert!(file[certificate.len()..].iter().all(|byte| *byte == 0));

    assert_eq!(send(&mut card, "00A4090C06 3F0000016F42"), [0x90, 0x00]);
    let file = read_whole_file(&mut card);
    let certificate = card.sign_certificate_der().to_vec();
    assert_eq!(&file[..certificate.len()], certificate);
}

#[test]
fn get_response_chaining_and_wrong_le() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, SELECT_EF_SN_ICC), [0x61, 0x27]);
    // Asking for more than is left: 6C with the exact length, data kept.
    assert_eq!(send(&mut card, "00C0000030"), [0x6C, 0x27]);
    let (part, status) = split(&send(&mut card, "00C0000010"));
    assert_eq!((part.len(), status), (0x10, 0x6117));
    let (rest, status) = split(&send(&mut card, "00C0000017"));
    assert_eq!((rest.len(), status), (0x17, 0x9000));
    assert_eq!(send(&mut card, "00C0000001"), [0x69, 0x85], "nothing left");
    assert_eq!(sw(&send(&mut card, "00C0010000")), 0x6A86);

    // Data not fetched right away is lost.
    assert_eq!(send(&mut card, SELECT_EF_SN_ICC), [0x61, 0x27]);
    assert_eq!(send(&mut card, "00B0000002"), [0x5A, 0x0A, 0x90, 0x00]);
    assert_eq!(send(&mut card, "00C0000027"), [0x69, 0x85]);
}

#[test]
fn get_data_pin_object_exactly_as_card_md() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, GET_PIN_DOCP), [0x61, 0x18]);
    assert_eq!(
        send(&mut card, "00C0000018"),
        hex("7016BF810112A0109A01039B0103A1088C06F3000013FF00 9000")
    );
    // The counter follows wrong PINs.
    assert_eq!(sw(&send(&mut card, "0020000108 3030303030303030")), 0x63C2);
    // A trailing Le is refused, as a T=0 line refuses data and Le together (strict T=0,
    // the default; Cryptolib v5.2 apdu.c:140-146), and taken by the lenient card.
    assert_eq!(send(&mut card, &format!("{GET_PIN_DOCP} 00")), [0x67, 0x00]);
    let mut lenient = VirtualCard::cps3(Holder::Dupont).with_lenient_t0();
    assert_eq!(
        send(&mut lenient, &format!("{GET_PIN_DOCP} 00")),
        [0x61, 0x18]
    );
    assert_eq!(send(&mut card, GET_PIN_DOCP), [0x61, 0x18]);
    assert_eq!(
        send(&mut card, "00C0000018"),
        hex("7016BF810112A0109A01039B0102A1088C06F3000013FF00 9000")
    );
    assert_eq!(card.pin_tries_left(), 2, "GET DATA spends nothing");
}

#[test]
fn the_pin_object_is_found_from_the_mf_only() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    // From inside DF 0001: 6A 88, as OpenSC commits fcd2e665f and e3a3722ad record.
    assert_eq!(send(&mut card, GET_PIN_DOCP), [0x6A, 0x88]);
    assert_eq!(send(&mut card, GET_PIN_SIZES), [0x6A, 0x88]);
    // The vendor's way (Cryptolib trace, OpenSC issue #2275): select the MF first.
    assert_eq!(send(&mut card, "00A4090C02 3F00"), [0x90, 0x00]);
    let docp = send(&mut card, GET_PIN_DOCP);
    collect(&mut card, 0x00, &docp);
    // The MF stays current: a host that does not select its application again finds neither
    // its files nor its key.
    assert_eq!(sw(&send(&mut card, "00A4020C02 5031")), 0x6A82);
    assert_eq!(sw(&send(&mut card, MSE_SET_AUTHENTICATION)), 0x6A88);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    // An EF of the MF selected leaves the MF current: GET DATA works there too.
    assert_eq!(send(&mut card, "00A4090C04 3F00D003"), [0x90, 0x00]);
    assert_eq!(send(&mut card, GET_PIN_DOCP), [0x61, 0x18]);
}

#[test]
fn get_data_other_objects() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    // CHV public data: maximum and minimum PIN lengths.
    let first = send(&mut card, GET_PIN_SIZES);
    assert_eq!(
        collect(&mut card, 0x00, &first),
        hex("700DBF81010 97F4106 800108 810104"
            .replace(' ', "")
            .as_str())
    );
    // Security environments are not readable, as on the CPS3.
    assert_eq!(
        sw(&send(&mut card, "00CB3FFF0A 4D087006BFFB05027B80")),
        0x6A88
    );
    // Private key DOCP, only from the application DF.
    assert_eq!(
        sw(&send(&mut card, "00CB3FFF0A 4D087006BF900202A080")),
        0x6A88
    );
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    let first = send(&mut card, "00CB3FFF0A 4D087006BF900202A080");
    let docp = collect(&mut card, 0x00, &first);
    assert_eq!(docp[..7], hex("7018BF900214A0"));
    assert!(docp.ends_with(&hex("80020100")));
    assert_eq!(
        sw(&send(&mut card, "00CB3FFF0B 4D097007BF9002037F4880")),
        0x6A80
    );
    assert_eq!(
        sw(&send(&mut card, "00CB3FFE0A 4D087006BF810102A080")),
        0x6A86
    );
    assert_eq!(sw(&send(&mut card, "00CB3FFF04 4D027000")), 0x6A80);
}

#[test]
fn verify_counter_reset_and_status() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, "00200001"), [0x63, 0xC3]);
    assert_eq!(send(&mut card, "0020000108 31313131FFFFFFFF"), [0x63, 0xC2]);
    assert_eq!(card.pin_tries_left(), 2);
    assert_eq!(
        send(&mut card, "00200001"),
        [0x63, 0xC2],
        "status spends nothing"
    );
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    assert_eq!(card.pin_tries_left(), 3);
    assert_eq!(send(&mut card, "00200001"), [0x90, 0x00]);
    assert_eq!(card.verify_count(), 2, "status queries are not counted");
    // Reset: still 3 tries, no longer verified.
    card.power_on();
    assert_eq!(send(&mut card, "00200001"), [0x63, 0xC3]);
}

#[test]
fn verify_wants_the_padded_pin_and_a_known_reference() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_pin("98765");
    assert_eq!(send(&mut card, "0020000104 31323334"), [0x67, 0x00]);
    assert_eq!(card.pin_tries_left(), 3, "a length error spends nothing");
    assert_eq!(sw(&send(&mut card, "0020008108 3938373635FFFFFF")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "0020010108 3938373635FFFFFF")), 0x6A86);
    // Unpadded-but-8-bytes and wrong padding are wrong PINs.
    assert_eq!(send(&mut card, "0020000108 3938373635000000"), [0x63, 0xC2]);
    assert_eq!(send(&mut card, "0020000108 3938373635FFFFFF"), [0x90, 0x00]);
}

#[test]
fn three_wrong_pins_block_the_card() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    for expected in [0xC2, 0xC1, 0xC0] {
        assert_eq!(
            send(&mut card, "0020000108 30303030FFFFFFFF"),
            [0x63, expected]
        );
    }
    assert_eq!(card.pin_tries_left(), 0);
    assert_eq!(
        send(&mut card, PIN_1234),
        [0x69, 0x83],
        "even the right PIN"
    );
    assert_eq!(send(&mut card, "00200001"), [0x69, 0x83]);
    card.power_on();
    assert_eq!(
        send(&mut card, "00200001"),
        [0x69, 0x83],
        "blocked across resets"
    );
    assert_eq!(card.verify_count(), 4);
    let blocked = VirtualCard::cps3(Holder::Martin).with_pin_tries_left(0);
    assert_eq!(blocked.pin_tries_left(), 0);
}

#[test]
fn mse_set_accepts_only_the_authentication_key_with_rsa_pkcs1() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    // CRT objects in another order (as OpenSC sends them).
    assert_eq!(send(&mut card, "002241A406 840182 800102"), [0x90, 0x00]);
    assert_eq!(sw(&send(&mut card, "002241A406 800102 840181")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "002241A406 800102 840183")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "002241A406 800142 840182")), 0x6A80);
    assert_eq!(sw(&send(&mut card, "002241A403 800102")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "002241A405 800102 8401")), 0x6A80);
    assert_eq!(sw(&send(&mut card, "002281A406 800102 840182")), 0x6A86);
    assert_eq!(sw(&send(&mut card, "002241B806 800102 840182")), 0x6A86);
}

#[test]
fn internal_authenticate_needs_mse_and_pin_and_signs_with_the_auth_key() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    let digest_info = sha256_digest_info(b"SHA-256(origin) || SHA-256(nonce)");
    let mut command = hex("0088000033");
    command.extend_from_slice(&digest_info);

    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(card.transmit(&command), [0x69, 0x85], "no MSE yet");
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    assert_eq!(card.transmit(&command), [0x69, 0x82], "no PIN yet");
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);

    assert_eq!(card.transmit(&command), [0x61, 0x00]);
    let (first, status) = split(&send(&mut card, "00C00000E7"));
    assert_eq!((first.len(), status), (0xE7, 0x6119));
    let (second, status) = split(&send(&mut card, "00C0000019"));
    assert_eq!((second.len(), status), (0x19, 0x9000));
    let signature = [first, second].concat();
    assert_eq!(signature.len(), 256);

    let key = public_key(card.auth_certificate_der());
    key.verify(Pkcs1v15Sign::new_unprefixed(), &digest_info, &signature)
        .expect("signature verifies with the authentication certificate");
    let wrong_key = public_key(card.sign_certificate_der());
    assert!(wrong_key
        .verify(Pkcs1v15Sign::new_unprefixed(), &digest_info, &signature)
        .is_err());

    // With a trailing Le, refused as a T=0 line refuses it; the lenient card signs the same.
    command.push(0x00);
    assert_eq!(card.transmit(&command), [0x67, 0x00]);
    let mut lenient = VirtualCard::cps3(Holder::Dupont).with_lenient_t0();
    for step in [SELECT_APPLICATION, MSE_SET_AUTHENTICATION, PIN_1234] {
        assert_eq!(send(&mut lenient, step), [0x90, 0x00]);
    }
    let first = lenient.transmit(&command);
    assert_eq!(
        collect(&mut lenient, 0x00, &first),
        signature,
        "PKCS#1 v1.5 is deterministic"
    );
}

#[test]
fn internal_authenticate_input_limits() {
    let mut card = VirtualCard::cps3(Holder::Martin);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    let mut too_long = vec![0x00, 0x88, 0x00, 0x00, 103];
    too_long.extend([0xAB; 103]);
    assert_eq!(card.transmit(&too_long), [0x67, 0x00]);
    assert_eq!(send(&mut card, "00880000"), [0x67, 0x00]);
    assert_eq!(sw(&send(&mut card, "0088010001 AB")), 0x6A86);
    let mut longest = vec![0x00, 0x88, 0x00, 0x00, 102];
    longest.extend([0xAB; 102]);
    assert_eq!(card.transmit(&longest), [0x61, 0x00]);
    let signature = collect(&mut card, 0x00, &[0x61, 0x00]);
    let key = public_key(card.auth_certificate_der());
    key.verify(Pkcs1v15Sign::new_unprefixed(), &[0xAB; 102], &signature)
        .expect("a 102-byte input is padded and signed");
}

#[test]
fn a_reset_forgets_pin_and_security_environment_but_not_the_counter() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, "0020000108 39393939FFFFFFFF"), [0x63, 0xC2]);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    card.power_on();
    assert!(!card.pin_verified());
    assert_eq!(send(&mut card, "0088000001 AB"), [0x69, 0x85]);
    assert_eq!(
        send(&mut card, "00B0000001"),
        [0x69, 0x86],
        "MF current, no EF"
    );
    // Changing DF also erases the security environment.
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, MSE_SET_AUTHENTICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, "00A4090C02 3F00"), [0x90, 0x00]);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    assert_eq!(send(&mut card, "0088000001 AB"), [0x69, 0x85]);
}

#[test]
fn document_signature_with_pso_hash_and_cds() {
    use sha2::Digest;
    let mut card = VirtualCard::cps3(Holder::Dupont);
    let message = b"document to sign";
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x90, 0x00]);
    assert_eq!(send(&mut card, "002A9E9A00"), [0x69, 0x85], "no MSE yet");
    assert_eq!(send(&mut card, "002241AA03 800140"), [0x90, 0x00]);
    let mut hash = vec![0x00, 0x2A, 0x90, 0xA0, (4 + message.len()) as u8];
    hash.extend([0x90, 0x00, 0x80, message.len() as u8]);
    hash.extend_from_slice(message);
    assert_eq!(card.transmit(&hash), [0x90, 0x00]);
    assert_eq!(send(&mut card, "002241B606 800142 840181"), [0x90, 0x00]);
    assert_eq!(send(&mut card, "002A9E9A00"), [0x69, 0x82], "no PIN yet");
    assert_eq!(send(&mut card, PIN_1234), [0x90, 0x00]);
    let first = send(&mut card, "002A9E9A00");
    assert_eq!(first, [0x61, 0x00]);
    let signature = collect(&mut card, 0x00, &first);

    let key = public_key(card.sign_certificate_der());
    let digest = sha2::Sha256::digest(message);
    let mut digest_info = hex(SHA256_DIGEST_INFO_PREFIX);
    digest_info.extend_from_slice(&digest);
    key.verify(Pkcs1v15Sign::new_unprefixed(), &digest_info, &signature)
        .expect("signature verifies with the signature certificate");
    assert_eq!(
        send(&mut card, "002A9E9A00"),
        [0x69, 0x85],
        "the hash is used once"
    );
    // Only the signature key, only SHA-256.
    assert_eq!(sw(&send(&mut card, "002241B606 800142 840182")), 0x6A88);
    assert_eq!(sw(&send(&mut card, "002241AA03 800110")), 0x6A80);
}

#[test]
fn generic_errors() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    assert_eq!(send(&mut card, "00E0000000"), [0x6D, 0x00]);
    assert_eq!(send(&mut card, "80A4090C02 3F00"), [0x6E, 0x00]);
    assert_eq!(
        send(&mut card, "A0A4000002 3F00"),
        [0x6E, 0x00],
        "CPS2ter class"
    );
    assert_eq!(send(&mut card, "00A409"), [0x67, 0x00]);
    assert_eq!(card.transmit(&[]), [0x67, 0x00]);
    assert_eq!(
        send(&mut card, "00A4090C05 3F00"),
        [0x67, 0x00],
        "Lc larger than data"
    );
    assert_eq!(card.apdu_log().len(), 6);
    assert_eq!(card.apdu_log()[1], hex("80A4090C02 3F00"));
    card.clear_log();
    assert!(card.apdu_log().is_empty());
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    let mut card = VirtualCard::cps3(Holder::Dupont);
    // A fixed-seed generator, biased towards the card's own CLA/INS so handlers are reached.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let instructions = [0xA4, 0xB0, 0xC0, 0xCB, 0x20, 0x22, 0x88, 0x2A, 0x00, 0xFF];
    for round in 0..20_000 {
        let length = (next() % 40) as usize;
        let mut apdu: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        if apdu.len() >= 2 && round % 4 != 0 {
            apdu[0] = 0x00;
            apdu[1] = instructions[(next() % instructions.len() as u64) as usize];
        }
        if round % 500 == 0 {
            card.power_on();
            let _ = send(&mut card, PIN_1234);
            let _ = send(&mut card, SELECT_APPLICATION);
        }
        let answer = card.transmit(&apdu);
        assert!(answer.len() >= 2, "{apdu:02X?}");
    }
}

#[test]
fn a_read_past_the_end_of_a_file_is_answered_as_the_switch_says() {
    use cpx_virtual_card::EndOfFileAnswer;
    // EF.SN.ICC holds 12 bytes; ask for 0x20.
    for (answer, expected) in [
        (EndOfFileAnswer::WrongLe, hex("6C0C")),
        (
            EndOfFileAnswer::EndOfFileWarning,
            hex("5A0A 8025000001 1000012345 6282"),
        ),
        (EndOfFileAnswer::WrongOffset, hex("6B00")),
        (EndOfFileAnswer::WrongLength, hex("6700")),
    ] {
        let mut card = VirtualCard::cps3(Holder::Dupont).with_end_of_file_answer(answer);
        assert_eq!(sw(&send(&mut card, "00A4090C04 3F00D003")), 0x9000);
        assert_eq!(send(&mut card, "00B0000020"), expected, "{answer:?}");
        // An exact Le is answered the same by all.
        assert_eq!(sw(&send(&mut card, "00B000000C")), 0x9000, "{answer:?}");
    }
}

#[test]
fn another_applet_answers_until_the_ias_root_is_selected() {
    let mut card = VirtualCard::cps3(Holder::Dupont).with_another_applet_selected(0x6E00);
    assert_eq!(send(&mut card, "00B09C000C"), [0x6E, 0x00]);
    assert_eq!(send(&mut card, SELECT_APPLICATION), [0x6E, 0x00]);
    assert!(card.another_applet_selected());
    assert_eq!(
        sw(&send(&mut card, "00A40404 08 8025000001FF0100")) >> 8,
        0x61
    );
    assert!(!card.another_applet_selected());
    assert_eq!(sw(&send(&mut card, "00B09C000C")), 0x9000);
}
