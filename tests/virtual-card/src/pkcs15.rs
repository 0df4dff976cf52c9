//! The card's file layout and its PKCS#15 (ISO/IEC 7816-15) content, DER encoded.
//!
//! ASN.1 module references are to PKCS#15 v1.1 / ISO 7816-15. Paths in the ODF, AODF, PrKDF and
//! CDF are absolute (`3F00 0001 xxxx`). The FIDs of the object directories and certificates are
//! deliberately not the usual 4401..4404 / 5015-based defaults: a host must follow
//! EF.DIR -> ODF -> xDF to find them.

use crate::der_writer::{
    boolean, context_constructed, context_primitive, enumerated, integer, named_bits, null,
    object_identifier, octet_string, sequence, tlv, utf8_string,
};

/// The IAS-ECC root (the MF's DF name), also announced in EF.ATR.
pub const IAS_ECC_ROOT_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// The PKCS#15 application of the CPS3 contact interface.
pub const PKCS15_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];

pub const MF: u16 = 0x3F00;
pub const EF_DIR: u16 = 0x2F00;
pub const EF_ATR: u16 = 0x2F01;
pub const EF_SN_ICC: u16 = 0xD003;
/// The PKCS#15 application DF; OpenSC's IAS-ECC driver expects the CPx keys' SDOs in 3F00/0001.
pub const APP_DF: u16 = 0x0001;
pub const ODF: u16 = 0x5031;
pub const TOKEN_INFO: u16 = 0x5032;
pub const PRKDF: u16 = 0x6F11;
pub const CDF: u16 = 0x6F14;
pub const AODF: u16 = 0x6F18;
pub const AUTH_CERTIFICATE: u16 = 0x6F41;
pub const SIGN_CERTIFICATE: u16 = 0x6F42;

/// Short EF identifiers of the MF's EFs (IAS-ECC: EF.DIR 1E, EF.ATR 1D, EF.SN 1C).
pub const SFI_EF_DIR: u8 = 0x1E;
pub const SFI_EF_ATR: u8 = 0x1D;
pub const SFI_EF_SN_ICC: u8 = 0x1C;

/// Key references (IAS-ECC SDO references, local to the application DF).
pub const AUTH_KEY_REFERENCE: u8 = 0x82;
pub const SIGN_KEY_REFERENCE: u8 = 0x81;
/// The cardholder PIN: global (in the MF), reference 1.
pub const PIN_REFERENCE: u8 = 0x01;
pub const PIN_STORED_LENGTH: usize = 8;
pub const PIN_MIN_LENGTH: usize = 4;
pub const PIN_MAX_LENGTH: usize = 8;
pub const PIN_PAD_CHAR: u8 = 0xFF;
pub const PIN_MAX_TRIES: u8 = 3;

/// PKCS#15 identifiers linking objects together.
pub const PIN_AUTH_ID: [u8; 1] = [0x01];
pub const AUTH_KEY_ID: [u8; 1] = [0x11];
pub const SIGN_KEY_ID: [u8; 1] = [0x12];

pub const AUTH_KEY_LABEL: &str = "CPS_PRIV_AUT";
pub const SIGN_KEY_LABEL: &str = "CPS_PRIV_SIG";
pub const AUTH_CERTIFICATE_LABEL: &str = "Certificat d'Authentification CPS";
pub const SIGN_CERTIFICATE_LABEL: &str = "Certificat de Signature CPS";
pub const PIN_LABEL: &str = "Code Porteur";

/// IAS-ECC algorithm references (the `80` byte of MSE SET), announced in TokenInfo.
pub const ALGO_RSA_PKCS1: u8 = 0x02;
pub const ALGO_RSA_PKCS1_SHA1: u8 = 0x12;
pub const ALGO_RSA_PKCS1_SHA256: u8 = 0x42;
pub const ALGO_RSA_PKCS1_DECIPHER: u8 = 0x1A;
pub const ALGO_SHA1: u8 = 0x10;
pub const ALGO_SHA256: u8 = 0x40;

/// Card files are allocated bigger than their content, the rest filled with 00, as on issued
/// cards: readers must honour the DER lengths, not the file size.
const DIRECTORY_FILE_SIZE: usize = 0x100;
pub const CERTIFICATE_FILE_SIZE: usize = 0x800;

/// Full path of a file of the application DF.
pub fn app_path(fid: u16) -> [u8; 6] {
    let [hi, lo] = fid.to_be_bytes();
    [0x3F, 0x00, 0x00, 0x01, hi, lo]
}

/// `Path ::= SEQUENCE { efidOrPath OCTET STRING, ... }`, absolute.
fn path(fid: u16) -> Vec<u8> {
    sequence(&[octet_string(&app_path(fid))])
}

/// The same Path relative to the application DF: the file id alone.
fn relative_path(fid: u16) -> Vec<u8> {
    sequence(&[octet_string(&fid.to_be_bytes())])
}

/// Pads a file's content with 00 up to its allocated size (at least `allocated`, and a multiple
/// of 64 bytes past it if the content is larger).
pub fn allocate(mut content: Vec<u8>, allocated: usize) -> Vec<u8> {
    let size = if content.len() <= allocated {
        allocated
    } else {
        content.len().div_ceil(64) * 64
    };
    content.resize(size, 0x00);
    content
}

/// EF.DIR: one application template `61 { 4F AID, 50 label }`, no path: OpenSC #2267 shows
/// key paths relative to the AID on a real CPS3, so its EF.DIR most likely has none, and a
/// host must select the application by AID.
pub fn ef_dir() -> Vec<u8> {
    tlv(
        &[0x61],
        &[tlv(&[0x4F], &PKCS15_AID), tlv(&[0x50], b"CPS")].concat(),
    )
}

/// EF.DIR with the application's path (`51 3F00 0001`): the variant a host reaches without
/// selecting the application by AID.
pub fn ef_dir_with_path() -> Vec<u8> {
    tlv(
        &[0x61],
        &[
            tlv(&[0x4F], &PKCS15_AID),
            tlv(&[0x50], b"CPS"),
            tlv(&[0x51], &[0x3F, 0x00, 0x00, 0x01]),
        ]
        .concat(),
    )
}

/// EF.ATR/INFO (ISO 7816-4 §12.2.2), as published for CPx cards: category indicator 80, card
/// service data, pre-issuing data, card capabilities, the IAS-ECC root AID, the IAS-ECC I/O
/// buffer sizes (E0: send 0x104, send under SM 0x104, receive 0x100, receive under SM 0x100),
/// the allocation scheme OID and a status word.
pub fn ef_atr() -> Vec<u8> {
    let size = |value: u16| tlv(&[0x02], &value.to_be_bytes());
    [
        vec![0x80],
        tlv(&[0x43], &[0xB8]),
        tlv(&[0x46], &[0x04, 0xB0, 0xEC, 0xC1]),
        tlv(&[0x47], &[0x94, 0x01, 0x80]),
        tlv(&[0x4F], &IAS_ECC_ROOT_AID),
        tlv(
            &[0xE0],
            &[size(0x0104), size(0x0104), size(0x0100), size(0x0100)].concat(),
        ),
        tlv(
            &[0x78],
            &tlv(&[0x06], &[0x2B, 0x81, 0x22, 0xF8, 0x78, 0x02]),
        ),
        tlv(&[0x82], &[0x90, 0x00]),
    ]
    .concat()
}

/// EF.SN.ICC: `5A 0A 80 25 00 00 01 <serial>`.
pub fn ef_sn_icc(serial: &[u8; 5]) -> Vec<u8> {
    let mut pan = vec![0x80, 0x25, 0x00, 0x00, 0x01];
    pan.extend_from_slice(serial);
    tlv(&[0x5A], &pan)
}

/// ODF: `PKCS15Objects` choices, each an absolute Path to a directory file.
pub fn odf() -> Vec<u8> {
    odf_with(path)
}

/// The ODF with paths relative to the application DF.
pub fn odf_relative() -> Vec<u8> {
    odf_with(relative_path)
}

fn odf_with(path: fn(u16) -> Vec<u8>) -> Vec<u8> {
    let entry = |choice: u8, fid: u16| context_constructed(choice, &[path(fid)]);
    allocate(
        [
            entry(0, PRKDF), // privateKeys [0]
            entry(4, CDF),   // certificates [4]
            entry(8, AODF),  // authObjects [8]
        ]
        .concat(),
        0x40,
    )
}

/// TokenInfo (PKCS#15 §6.9), with the card's algorithms so that a middleware can map PKCS#11
/// mechanisms to IAS-ECC algorithm references.
pub fn token_info(serial: &[u8; 5]) -> Vec<u8> {
    let mut serial_number = vec![0x80, 0x25, 0x00, 0x00, 0x01];
    serial_number.extend_from_slice(serial);

    // SupportedOperations BIT STRING { compute-checksum(0), compute-signature(1),
    //   verify-checksum(2), verify-signature(3), encipher(4), decipher(5), hash(6), ... }
    const COMPUTE_SIGNATURE: usize = 1;
    const DECIPHER: usize = 5;
    const HASH: usize = 6;
    const CKM_RSA_PKCS: u64 = 0x0001;
    const CKM_SHA1_RSA_PKCS: u64 = 0x0006;
    const CKM_SHA256_RSA_PKCS: u64 = 0x0040;
    const CKM_SHA_1: u64 = 0x0220;
    const CKM_SHA256: u64 = 0x0250;
    const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
    const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
    const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
    const SHA1_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 5];
    const SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
    // (mechanism, operation, algorithm OID, the card's algorithm reference), one row per
    // AlgorithmInfo; each row's reference is its place in the list, from 1.
    #[rustfmt::skip]
    let rows: [(u64, usize, &[u64], u8); 6] = [
        (CKM_SHA_1, HASH, SHA1, ALGO_SHA1),
        (CKM_SHA256, HASH, SHA256, ALGO_SHA256),
        (CKM_SHA1_RSA_PKCS, COMPUTE_SIGNATURE, SHA1_WITH_RSA, ALGO_RSA_PKCS1_SHA1),
        (CKM_SHA256_RSA_PKCS, COMPUTE_SIGNATURE, SHA256_WITH_RSA, ALGO_RSA_PKCS1_SHA256),
        (CKM_RSA_PKCS, COMPUTE_SIGNATURE, RSA_ENCRYPTION, ALGO_RSA_PKCS1),
        (CKM_RSA_PKCS, DECIPHER, RSA_ENCRYPTION, ALGO_RSA_PKCS1_DECIPHER),
    ];
    let algorithms: Vec<Vec<u8>> = (1..)
        .zip(rows)
        .map(|(reference, (mechanism, operation, oid, algo_ref))| {
            sequence(&[
                integer(reference),
                integer(mechanism),
                null(),
                named_bits(&[operation]),
                object_identifier(oid),
                integer(u64::from(algo_ref)),
            ])
        })
        .collect();
    allocate(
        sequence(&[
            integer(0), // version v1
            octet_string(&serial_number),
            utf8_string("CPx Connect test card"), // manufacturerID
            context_primitive(0, b"CPS3 (virtual)"), // label [0] Label (UTF8String)
            named_bits(&[0, 1]),                  // tokenflags { readonly, loginRequired }
            context_constructed(2, &algorithms),  // supportedAlgorithms [2]
        ]),
        0x40,
    )
}

/// AODF: the cardholder PIN ("code porteur").
pub fn aodf() -> Vec<u8> {
    // PinFlags { case-sensitive(0), local(1), change-disabled(2), unblock-disabled(3),
    //   initialized(4), needs-padding(5), ... }
    const INITIALIZED: usize = 4;
    const NEEDS_PADDING: usize = 5;
    const ASCII_NUMERIC: u64 = 1;
    let pin = sequence(&[
        // CommonObjectAttributes: label, flags { private(0), modifiable(1) }
        sequence(&[utf8_string(PIN_LABEL), named_bits(&[1])]),
        // CommonAuthenticationObjectAttributes: authId
        sequence(&[octet_string(&PIN_AUTH_ID)]),
        // [1] PinAttributes
        context_constructed(
            1,
            &[sequence(&[
                named_bits(&[INITIALIZED, NEEDS_PADDING]),
                enumerated(ASCII_NUMERIC),
                integer(PIN_MIN_LENGTH as u64),
                integer(PIN_STORED_LENGTH as u64),
                integer(PIN_MAX_LENGTH as u64),
                context_primitive(0, &[PIN_REFERENCE]), // pinReference [0] Reference
                octet_string(&[PIN_PAD_CHAR]),          // padChar
            ])],
        ),
    ]);
    allocate(pin, DIRECTORY_FILE_SIZE)
}

/// PrKDF: the two RSA private keys. As on real CPx cards, no algReference is given.
pub fn prkdf() -> Vec<u8> {
    prkdf_with_references(AUTH_KEY_REFERENCE, SIGN_KEY_REFERENCE)
}

/// The PrKDF of [`prkdf`] with other key references (the CPS4 profile's).
pub fn prkdf_with_references(auth_key_reference: u8, sign_key_reference: u8) -> Vec<u8> {
    // KeyUsageFlags { encrypt(0), decrypt(1), sign(2), signRecover(3), wrap(4), unwrap(5),
    //   verify(6), verifyRecover(7), derive(8), nonRepudiation(9) }
    const DECRYPT: usize = 1;
    const SIGN: usize = 2;
    const NON_REPUDIATION: usize = 9;
    // KeyAccessFlags { sensitive(0), extractable(1), alwaysSensitive(2), neverExtractable(3),
    //   local(4) }
    let access_flags = named_bits(&[0, 2, 3, 4]);
    let key = |label: &str, id: &[u8], usage: &[usize], reference: u8| {
        sequence(&[
            // CommonObjectAttributes: label, flags { private }, authId
            sequence(&[
                utf8_string(label),
                named_bits(&[0]),
                octet_string(&PIN_AUTH_ID),
            ]),
            // CommonKeyAttributes: iD, usage, native, accessFlags, keyReference
            sequence(&[
                octet_string(id),
                named_bits(usage),
                boolean(true),
                access_flags.clone(),
                integer(u64::from(reference)),
            ]),
            // [1] PrivateRSAKeyAttributes: value (path of the DF holding the key), modulusLength
            context_constructed(
                1,
                &[sequence(&[
                    sequence(&[octet_string(&[0x3F, 0x00, 0x00, 0x01])]),
                    integer(2048),
                ])],
            ),
        ])
    };
    allocate(
        [
            key(
                AUTH_KEY_LABEL,
                &AUTH_KEY_ID,
                &[DECRYPT, SIGN],
                auth_key_reference,
            ),
            key(
                SIGN_KEY_LABEL,
                &SIGN_KEY_ID,
                &[NON_REPUDIATION],
                sign_key_reference,
            ),
        ]
        .concat(),
        DIRECTORY_FILE_SIZE,
    )
}

/// CDF: the two X.509 certificates, by path.
pub fn cdf() -> Vec<u8> {
    cdf_with(path)
}

/// The CDF with certificate paths relative to the application DF.
pub fn cdf_relative() -> Vec<u8> {
    cdf_with(relative_path)
}

fn cdf_with(path: fn(u16) -> Vec<u8>) -> Vec<u8> {
    let certificate = |label: &str, id: &[u8], fid: u16| {
        sequence(&[
            sequence(&[utf8_string(label)]), // CommonObjectAttributes
            sequence(&[octet_string(id)]),   // CommonCertificateAttributes: iD
            context_constructed(1, &[sequence(&[path(fid)])]), // [1] X509CertificateAttributes
        ])
    };
    allocate(
        [
            certificate(AUTH_CERTIFICATE_LABEL, &AUTH_KEY_ID, AUTH_CERTIFICATE),
            certificate(SIGN_CERTIFICATE_LABEL, &SIGN_KEY_ID, SIGN_CERTIFICATE),
        ]
        .concat(),
        DIRECTORY_FILE_SIZE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ef_atr_matches_the_published_cpx_bytes() {
        // 3F00/2F01 as read from a CPx card in OpenSC issue #2223.
        let published = [
            0x80, 0x43, 0x01, 0xB8, 0x46, 0x04, 0x04, 0xB0, 0xEC, 0xC1, 0x47, 0x03, 0x94, 0x01,
            0x80, 0x4F, 0x08, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00, 0xE0, 0x10, 0x02,
            0x02, 0x01, 0x04, 0x02, 0x02, 0x01, 0x04, 0x02, 0x02, 0x01, 0x00, 0x02, 0x02, 0x01,
            0x00, 0x78, 0x08, 0x06, 0x06, 0x2B, 0x81, 0x22, 0xF8, 0x78, 0x02, 0x82, 0x02, 0x90,
            0x00,
        ];
        assert_eq!(ef_atr(), published);
    }

    #[test]
    fn ef_sn_icc_is_twelve_bytes_with_the_cpx_prefix() {
        let file = ef_sn_icc(&[1, 2, 3, 4, 5]);
        assert_eq!(
            file,
            [0x5A, 0x0A, 0x80, 0x25, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn ef_dir_announces_the_pkcs15_application() {
        let mut expected = vec![0x61, 0x14, 0x4F, 0x0D];
        expected.extend_from_slice(&PKCS15_AID);
        expected.extend_from_slice(&[0x50, 0x03, b'C', b'P', b'S']);
        assert_eq!(ef_dir(), expected);
        let mut with_path = vec![0x61, 0x1A];
        with_path.extend_from_slice(&expected[2..]);
        with_path.extend_from_slice(&[0x51, 0x04, 0x3F, 0x00, 0x00, 0x01]);
        assert_eq!(ef_dir_with_path(), with_path);
    }

    #[test]
    fn the_relative_odf_and_cdf_name_files_by_their_id_alone() {
        let odf = odf_relative();
        assert_eq!(&odf[..8], [0xA0, 0x06, 0x30, 0x04, 0x04, 0x02, 0x6F, 0x11]);
        let cdf = cdf_relative();
        let auth = [0x30, 0x04, 0x04, 0x02, 0x6F, 0x41];
        assert!(cdf.windows(auth.len()).any(|w| w == auth));
        assert!(!cdf.windows(2).any(|w| w == [0x3F, 0x00]));
    }

    #[test]
    fn allocation_pads_with_zeros_to_the_allocated_size() {
        assert_eq!(allocate(vec![1, 2], 4), [1, 2, 0, 0]);
        let big = allocate(vec![7; 70], 0x40);
        assert_eq!(big.len(), 128);
        assert!(big[70..].iter().all(|byte| *byte == 0));
    }

    #[test]
    fn odf_points_at_the_three_directories_by_absolute_path() {
        let odf = odf();
        assert_eq!(
            &odf[..14],
            [0xA0, 0x0A, 0x30, 0x08, 0x04, 0x06, 0x3F, 0x00, 0x00, 0x01, 0x6F, 0x11, 0xA4, 0x0A]
        );
        assert_eq!(odf.len(), 0x40);
    }
}
