//! The HTML pages: askama templates under `demo/templates/` (one per page, on `base.html`),
//! checked at compile time; askama escapes every value written into them.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::session::{Flash, ProviderHolder};
use crate::store::{Account, LinkedCard};

/// `JJ/MM/AAAA` (UTC), as French administrations write dates. A moment the `time` crate
/// cannot hold (beyond ±9999 years: never in a certificate, but the card's date is the card's)
/// reads as unknown rather than wrong.
pub fn format_date_fr(moment: SystemTime) -> String {
    const FRENCH_DATE: &[BorrowedFormatItem<'_>] = format_description!("[day]/[month]/[year]");
    let nanoseconds = match moment.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::try_from(since.as_nanos()).ok(),
        Err(before) => i128::try_from(before.duration().as_nanos())
            .ok()
            .map(|nanoseconds| -nanoseconds),
    };
    nanoseconds
        .and_then(|nanoseconds| OffsetDateTime::from_unix_timestamp_nanos(nanoseconds).ok())
        .and_then(|date| date.format(FRENCH_DATE).ok())
        .unwrap_or_else(|| "date inconnue".to_owned())
}

/// The login page: the card button, the OpenID Connect button (when a provider is
/// configured) and the password form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf_token: &'a str,
    pub provider_button: bool,
    pub flash: Option<&'a Flash>,
    pub username: &'a str,
}

/// First-time linking: the verified card (or the holder the OpenID Connect provider vouched
/// for), and the account's name and password to link it to.
#[derive(Template)]
#[template(path = "link.html")]
pub struct LinkPage<'a> {
    pub csrf_token: &'a str,
    pub card: Option<&'a LinkedCard>,
    pub holder: Option<&'a ProviderHolder>,
    pub error: Option<&'a str>,
    pub username: &'a str,
    pub signed_in_as: Option<&'a Account>,
}

/// The signed-in account and its card (or the button to link one).
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub csrf_token: &'a str,
    pub account: &'a Account,
    pub card: Option<&'a LinkedCard>,
    /// The OpenID Connect provider whose holder is linked to the account, if any.
    pub provider: Option<&'a str>,
    pub flash: Option<&'a Flash>,
}

/// A page that only says what happened and where to go next.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub back_href: &'a str,
    pub back_label: &'a str,
}

impl<'a> MessagePage<'a> {
    pub fn new(title: &'a str, message: &'a str, back_href: &'a str, back_label: &'a str) -> Self {
        Self {
            title,
            message,
            back_href,
            back_label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_are_escaped_in_text_and_attributes() -> Result<(), askama::Error> {
        let html = MessagePage {
            title: "t",
            message: r#"<a href="x">l'été & co</a>"#,
            back_href: r#"/"><script>"#,
            back_label: "retour",
        }
        .render()?;
        assert!(html.contains("&#60;a href=&#34;x&#34;&#62;l&#39;été &#38; co&#60;/a&#62;"));
        assert!(html.contains(r#"href="/&#34;&#62;&#60;script&#62;""#));
        Ok(())
    }

    #[test]
    fn the_message_table_is_json_that_cannot_end_its_script(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let html = LoginPage {
            csrf_token: "token",
            provider_button: false,
            flash: None,
            username: "",
        }
        .render()?;
        let start_tag = r#"<script type="application/json" id="cpx-messages">"#;
        let start = html.find(start_tag).ok_or("no message table")? + start_tag.len();
        let length = html[start..].find("</script>").ok_or("table not closed")?;
        let table: serde_json::Value = serde_json::from_str(&html[start..start + length])?;
        assert_eq!(
            table,
            serde_json::Value::Object(crate::messages::browser_messages())
        );
        Ok(())
    }

    #[test]
    fn dates_in_french_order() {
        assert_eq!(format_date_fr(UNIX_EPOCH), "01/01/1970");
        // 2000-02-29 00:00:00 UTC and 2036-11-23 14:09:15 UTC.
        assert_eq!(
            format_date_fr(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "29/02/2000"
        );
        assert_eq!(
            format_date_fr(UNIX_EPOCH + Duration::from_secs(2_111_062_155)),
            "23/11/2036"
        );
        assert_eq!(
            format_date_fr(UNIX_EPOCH - Duration::from_secs(1)),
            "31/12/1969"
        );
        // The last second of 9999, and the next day, past what the `time` crate holds.
        assert_eq!(
            format_date_fr(UNIX_EPOCH + Duration::from_secs(253_402_300_799)),
            "31/12/9999"
        );
        assert_eq!(
            format_date_fr(UNIX_EPOCH + Duration::from_secs(253_402_300_800 + 86_400)),
            "date inconnue"
        );
    }

    #[test]
    fn card_holder_is_escaped_on_the_link_page() -> Result<(), askama::Error> {
        let card = LinkedCard {
            anchor_id: "aa".repeat(32),
            id_nat: "810001234567".to_owned(),
            surname: "<script>".to_owned(),
            given_name: "MARIE".to_owned(),
            profession: None,
            issuer: "CN=X".to_owned(),
            serial_hex: "01".to_owned(),
            not_after: UNIX_EPOCH,
        };
        let html = LinkPage {
            csrf_token: "token",
            card: Some(&card),
            holder: None,
            error: None,
            username: "",
            signed_in_as: None,
        }
        .render()?;
        // askama's numeric entities.
        assert!(html.contains("MARIE &#60;script&#62;"));
        assert!(!html.contains("<script>"));
        Ok(())
    }
}
