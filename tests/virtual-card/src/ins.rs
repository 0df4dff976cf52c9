//! The instruction bytes (INS, ISO 7816-4 and IAS-ECC) of the commands the virtual card answers:
//! one list for the card and for the tests that point a fault at a command of a login.

pub const SELECT: u8 = 0xA4;
pub const READ_BINARY: u8 = 0xB0;
pub const GET_RESPONSE: u8 = 0xC0;
pub const GET_DATA: u8 = 0xCB;
pub const VERIFY: u8 = 0x20;
/// MANAGE SECURITY ENVIRONMENT (MSE SET).
pub const MSE: u8 = 0x22;
pub const INTERNAL_AUTHENTICATE: u8 = 0x88;
/// PERFORM SECURITY OPERATION (HASH, COMPUTE DIGITAL SIGNATURE, DECIPHER).
pub const PSO: u8 = 0x2A;
