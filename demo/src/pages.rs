//! The HTML pages: askama templates under `demo/templates/` (one per page, on `base.html`),
//! checked at compile time; askama escapes every value written into them.

use std::time::{SystemTime, UNIX_EPOCH};

use askama::Template;

use crate::session::Flash;
use crate::store::{Account, LinkedCard};

/// `JJ/MM/AAAA` (UTC), as French administrations write dates.
pub fn format_date_fr(time: SystemTime) -> String {
    let days = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => (since.as_secs() / 86_400) as i64,
        Err(before) => -((before.duration().as_secs() / 86_400) as i64) - 1,
    };
    let (year, month, day) = civil_from_days(days);
    format!("{day:02}/{month:02}/{year:04}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The login page: the card button and the password form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf_token: &'a str,
    pub flash: Option<&'a Flash>,
    pub username: &'a str,
}

/// First-time linking: the verified card, and the account's name and password to link it to.
#[derive(Template)]
#[template(path = "link.html")]
pub struct LinkPage<'a> {
    pub csrf_token: &'a str,
    pub card: &'a LinkedCard,
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
            card: &card,
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
