//! The test PKI made by `fixtures/generate.sh`, embedded so tests need no path juggling.

/// One card's worth of test material.
pub(crate) struct HolderFixtures {
    pub auth_key_pkcs8: &'static [u8],
    pub auth_certificate: &'static [u8],
    pub sign_key_pkcs8: &'static [u8],
    pub sign_certificate: &'static [u8],
    /// The five serial bytes of EF.SN.ICC (after `80 25 00 00 01`), distinct per card.
    pub icc_serial: [u8; 5],
}

pub(crate) const TEST_CA_CERTIFICATE: &[u8] = include_bytes!("../fixtures/test-ca.der");
pub(crate) const TEST_CA_KEY_PKCS8: &[u8] = include_bytes!("../fixtures/test-ca.key.der");
pub(crate) const TEST_CA_CRL: &[u8] = include_bytes!("../fixtures/test-ca.crl.der");

pub(crate) const DUPONT: HolderFixtures = HolderFixtures {
    auth_key_pkcs8: include_bytes!("../fixtures/dupont-authentication.key.der"),
    auth_certificate: include_bytes!("../fixtures/dupont-authentication.crt.der"),
    sign_key_pkcs8: include_bytes!("../fixtures/dupont-signature.key.der"),
    sign_certificate: include_bytes!("../fixtures/dupont-signature.crt.der"),
    icc_serial: [0x10, 0x00, 0x01, 0x23, 0x45],
};

pub(crate) const MARTIN: HolderFixtures = HolderFixtures {
    auth_key_pkcs8: include_bytes!("../fixtures/martin-authentication.key.der"),
    auth_certificate: include_bytes!("../fixtures/martin-authentication.crt.der"),
    sign_key_pkcs8: include_bytes!("../fixtures/martin-signature.key.der"),
    sign_certificate: include_bytes!("../fixtures/martin-signature.crt.der"),
    icc_serial: [0x10, 0x00, 0x09, 0x87, 0x65],
};
