//! What the PIN window shows about a certificate: holder identity and expiry, from the X.509 subject.

use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::Certificate;

const CN: &str = "2.5.4.3";
const SURNAME: &str = "2.5.4.4";
const GIVEN_NAME: &str = "2.5.4.42";
const TITLE: &str = "2.5.4.12";
const ORGANIZATIONAL_UNIT: &str = "2.5.4.11";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    /// The national professional id (the CN): `8` + RPPS, or `0` + ADELI.
    pub id_nat: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    /// `title`, or the OU that test cards use for it.
    pub profession: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    pub holder: Holder,
    /// RFC 3339, UTC.
    pub not_after: String,
}

pub fn summarise(certificate_der: &[u8]) -> Result<CertificateSummary, String> {
    let certificate = Certificate::from_der(certificate_der).map_err(|e| e.to_string())?;
    let tbs = &certificate.tbs_certificate;
    let mut holder = Holder {
        id_nat: None,
        surname: None,
        given_name: None,
        profession: None,
    };
    let mut organizational_unit = None;
    for rdn in tbs.subject.0.iter() {
        for attribute in rdn.0.iter() {
            let Some(value) = directory_string(&attribute.value) else {
                continue;
            };
            let slot = match attribute.oid.to_string().as_str() {
                CN => &mut holder.id_nat,
                SURNAME => &mut holder.surname,
                GIVEN_NAME => &mut holder.given_name,
                TITLE => &mut holder.profession,
                ORGANIZATIONAL_UNIT => &mut organizational_unit,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
    }
    if holder.profession.is_none() {
        holder.profession = organizational_unit;
    }
    let not_after = tbs.validity.not_after.to_system_time();
    let not_after = time::OffsetDateTime::from(not_after)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| e.to_string())?;
    Ok(CertificateSummary { holder, not_after })
}

fn directory_string(value: &x509_cert::der::Any) -> Option<String> {
    let text = match value.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(value).ok()?.as_str().to_owned(),
        Tag::PrintableString => PrintableStringRef::try_from(value)
            .ok()?
            .as_str()
            .to_owned(),
        Tag::Ia5String => Ia5StringRef::try_from(value).ok()?.as_str().to_owned(),
        Tag::TeletexString => TeletexStringRef::try_from(value).ok()?.as_str().to_owned(),
        _ => return None,
    };
    Some(text)
}
