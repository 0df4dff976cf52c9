//! The HTML pages: plain server-rendered markup, every dynamic value escaped.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::messages::browser_messages_json;
use crate::session::Flash;
use crate::store::{Account, LinkedCard};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

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

fn layout(title: &str, signed_in_as: Option<(&Account, &str)>, body: &str) -> String {
    let account_bar = match signed_in_as {
        Some((account, csrf_token)) => format!(
            r#"<div class="account-bar">
        <span class="account-name">{name}</span>
        <a href="/compte">Mon compte</a>
        <form method="post" action="/deconnexion" class="inline-form">
          <input type="hidden" name="csrf" value="{csrf}">
          <button type="submit" class="link-button">Se déconnecter</button>
        </form>
      </div>"#,
            name = escape(&account.display_name),
            csrf = escape(csrf_token),
        ),
        None => String::new(),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} – Espace professionnel (démonstration CPx Connect)</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header class="site-header">
    <div class="container header-row">
      <a class="brand" href="/">
        <span class="brand-mark" aria-hidden="true"></span>
        <span class="brand-text"><strong>Espace professionnel de santé</strong>
        <small>Site de démonstration CPx Connect</small></span>
      </a>
      {account_bar}
    </div>
  </header>
  <main class="container" id="contenu">
{body}
  </main>
  <footer class="site-footer">
    <div class="container">Site de démonstration : aucune donnée de santé n'y est traitée.
    La connexion par carte CPS passe par l'extension CPx Connect ; votre code porteur n'est jamais saisi dans cette page.</div>
  </footer>
</body>
</html>
"#,
        title = escape(title),
    )
}

fn flash_block(flash: Option<&Flash>) -> String {
    match flash {
        Some(Flash::Info(text)) => format!(
            r#"<div class="notice notice-info" role="status">{}</div>"#,
            escape(text)
        ),
        Some(Flash::Error(text)) => format!(
            r#"<div class="notice notice-error" role="alert">{}</div>"#,
            escape(text)
        ),
        None => String::new(),
    }
}

/// The card button, its live status line and what its script needs.
fn card_button(label: &str) -> String {
    // `<` never appears in the table, but a `</script>` inside it would end the element.
    let messages = browser_messages_json().replace('<', "\\u003c");
    format!(
        r#"<button type="button" id="card-login-button" class="button button-primary button-card">
        <span class="card-icon" aria-hidden="true"></span>{label}</button>
      <p id="card-status" class="card-status" role="status" aria-live="polite" hidden></p>
      <script type="application/json" id="cpx-messages">{messages}</script>
      <script type="module" src="/static/card-login.js"></script>"#,
        label = escape(label),
    )
}

fn card_details(card: &LinkedCard) -> String {
    let profession = card
        .profession
        .as_deref()
        .map(escape)
        .unwrap_or_else(|| "non indiquée".to_owned());
    format!(
        r#"<dl class="details">
        <dt>Titulaire</dt><dd>{given_name} {surname}</dd>
        <dt>Profession</dt><dd>{profession}</dd>
        <dt>Identifiant national (idNat)</dt><dd><code>{id_nat}</code></dd>
        <dt>Certificat valable jusqu'au</dt><dd>{not_after}</dd>
      </dl>"#,
        given_name = escape(&card.given_name),
        surname = escape(&card.surname),
        id_nat = escape(&card.id_nat),
        not_after = format_date_fr(card.not_after),
    )
}

pub struct LoginPage<'a> {
    pub csrf_token: &'a str,
    pub flash: Option<&'a Flash>,
    pub username: &'a str,
}

pub fn login_page(page: &LoginPage<'_>) -> String {
    let body = format!(
        r#"    <h1>Connexion à votre espace</h1>
    {flash}
    <div class="columns">
      <section class="panel panel-card" aria-labelledby="titre-carte">
        <h2 id="titre-carte">Avec votre carte CPS</h2>
        <p>Insérez votre carte CPS dans le lecteur, puis cliquez sur le bouton.
        Votre code porteur vous sera demandé dans une fenêtre de l'extension CPx Connect.</p>
        {card_button}
      </section>
      <section class="panel" aria-labelledby="titre-identifiant">
        <h2 id="titre-identifiant">Avec votre identifiant</h2>
        <form method="post" action="/connexion" class="form">
          <input type="hidden" name="csrf" value="{csrf}">
          <label for="username">Identifiant</label>
          <input id="username" name="username" type="text" autocomplete="username" required value="{username}">
          <label for="password">Mot de passe</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="button button-secondary">Se connecter</button>
        </form>
      </section>
    </div>"#,
        flash = flash_block(page.flash),
        card_button = card_button("S'identifier par carte CPS"),
        csrf = escape(page.csrf_token),
        username = escape(page.username),
    );
    layout("Connexion", None, &body)
}

pub struct LinkPage<'a> {
    pub csrf_token: &'a str,
    pub card: &'a LinkedCard,
    pub error: Option<&'a str>,
    pub username: &'a str,
    pub signed_in_as: Option<&'a Account>,
}

pub fn link_page(page: &LinkPage<'_>) -> String {
    let error = page.error.map(|text| Flash::Error(text.to_owned()));
    let body = format!(
        r#"    <h1>Connectez votre compte professionnel à votre carte CPS</h1>
    {flash}
    <p class="lead">C'est la première fois que cette carte est utilisée sur ce site.
    Saisissez une dernière fois votre identifiant et votre mot de passe : ensuite, votre carte CPS suffira pour vous connecter.</p>
    <div class="columns">
      <section class="panel" aria-labelledby="titre-carte-lue">
        <h2 id="titre-carte-lue">Carte CPS présentée</h2>
        {card}
      </section>
      <section class="panel" aria-labelledby="titre-compte">
        <h2 id="titre-compte">Votre compte</h2>
        <form method="post" action="/lier" class="form">
          <input type="hidden" name="csrf" value="{csrf}">
          <label for="username">Identifiant</label>
          <input id="username" name="username" type="text" autocomplete="username" required value="{username}">
          <label for="password">Mot de passe</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="button button-primary">Associer ma carte et me connecter</button>
        </form>
        <form method="post" action="/lier/annuler" class="form-secondary">
          <input type="hidden" name="csrf" value="{csrf}">
          <button type="submit" class="link-button">Annuler</button>
        </form>
      </section>
    </div>"#,
        flash = flash_block(error.as_ref()),
        card = card_details(page.card),
        csrf = escape(page.csrf_token),
        username = escape(page.username),
    );
    layout(
        "Associer votre carte CPS",
        page.signed_in_as.map(|account| (account, page.csrf_token)),
        &body,
    )
}

pub struct AccountPage<'a> {
    pub csrf_token: &'a str,
    pub account: &'a Account,
    pub card: Option<&'a LinkedCard>,
    pub flash: Option<&'a Flash>,
}

pub fn account_page(page: &AccountPage<'_>) -> String {
    let card_section = match page.card {
        Some(card) => format!(
            r#"{details}
        <form method="post" action="/compte/dissocier" class="form-secondary">
          <input type="hidden" name="csrf" value="{csrf}">
          <label for="unlink-password">Mot de passe de votre compte (pour confirmer)</label>
          <input id="unlink-password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="button button-secondary">Dissocier cette carte de mon compte</button>
        </form>
        <p class="hint">Après dissociation, vous vous connecterez avec votre identifiant et votre mot de passe,
        jusqu'à ce que vous associiez de nouveau une carte.</p>"#,
            details = card_details(card),
            csrf = escape(page.csrf_token),
        ),
        None => format!(
            r#"<p>Aucune carte CPS n'est associée à votre compte.</p>
        {}"#,
            card_button("Associer ma carte CPS")
        ),
    };
    let body = format!(
        r#"    <h1>Mon compte</h1>
    {flash}
    <div class="columns">
      <section class="panel" aria-labelledby="titre-identite">
        <h2 id="titre-identite">Mon identité</h2>
        <dl class="details">
          <dt>Nom</dt><dd>{name}</dd>
          <dt>Identifiant</dt><dd><code>{username}</code></dd>
        </dl>
      </section>
      <section class="panel" aria-labelledby="titre-carte-associee">
        <h2 id="titre-carte-associee">Carte CPS associée</h2>
        {card_section}
      </section>
    </div>"#,
        flash = flash_block(page.flash),
        name = escape(&page.account.display_name),
        username = escape(&page.account.username),
    );
    layout("Mon compte", Some((page.account, page.csrf_token)), &body)
}

/// A page that only says what happened and where to go next.
pub fn message_page(title: &str, message: &str, back_href: &str, back_label: &str) -> String {
    let body = format!(
        r#"    <h1>{title}</h1>
    <div class="notice notice-error" role="alert">{message}</div>
    <p><a class="button button-secondary" href="{href}">{label}</a></p>"#,
        title = escape(title),
        message = escape(message),
        href = escape(back_href),
        label = escape(back_label),
    );
    layout(title, None, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">l'été & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;l&#39;été &amp; co&lt;/a&gt;"
        );
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
    fn card_holder_is_escaped_on_the_link_page() {
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
        let html = link_page(&LinkPage {
            csrf_token: "token",
            card: &card,
            error: None,
            username: "",
            signed_in_as: None,
        });
        assert!(html.contains("MARIE &lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }
}
