//! idp/README.md's claim tables are one source with the code: each row is checked against the
//! claims the provider emits for a test card, so the README cannot promise a claim the
//! provider does not give, nor hide one it gives.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

const README: &str = include_str!("../README.md");

/// The cells of the table under `heading` whose header row starts with `header`.
fn table(heading: &str, header: &str) -> Result<Vec<Vec<String>>, Error> {
    let after_heading = README
        .split_once(&format!("\n{heading}\n"))
        .ok_or_else(|| format!("README: no heading {heading:?}"))?
        .1;
    let from_header = after_heading
        .split_once(&format!("\n{header}"))
        .ok_or_else(|| format!("README: no table {header:?} under {heading:?}"))?
        .1;
    let rows = from_header
        .lines()
        .skip(2) // the rest of the header row, then |---|
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect();
    Ok(rows)
}

/// The names written as code in a cell: `a`, `b` → [a, b].
fn names_in(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// A login with the valid test card for `query`, then the ID token's claims (signature checked)
/// and the userinfo answer.
async fn claims_for(idp: &Idp, query: &str) -> Result<(Value, Value), Error> {
    let (params, _) = idp.login(query).await?;
    let code = params.get("code").ok_or("no code")?;
    let tokens = idp
        .token_basic("site", SECRET, &code_form(code, REDIRECT))
        .await?;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let tokens = tokens.json();
    let jwks = idp.get("/jwks", &[]).await?.json();
    let id_token = verify_id_token(tokens["id_token"].as_str().unwrap_or_default(), &jwks)?;
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let userinfo = idp.userinfo(access).await?;
    assert_eq!(userinfo.status, StatusCode::OK, "{}", userinfo.body);
    Ok((id_token, userinfo.json()))
}

/// A request as a Pro Santé Connect site makes it: `openid scope_all`, `acr_values=eidas1`.
fn pro_sante_connect_query() -> String {
    site_query("&acr_values=eidas1").replace("scope=openid%20profile", "scope=openid%20scope_all")
}

#[tokio::test]
async fn the_pro_sante_connect_table_says_what_the_provider_gives() -> TestResult {
    let rows = table(
        "### Claim by claim",
        "| Pro Santé Connect claim | cpx-idp claim |",
    )?;
    assert!(rows.len() >= 10, "the table was not read whole: {rows:?}");
    let idp = provider()?;
    let (id_token, userinfo) = claims_for(&idp, &pro_sante_connect_query()).await?;
    let mut not_from_the_card = 0;
    for row in &rows {
        let (psc, ours) = (names_in(&row[0]), row[1].as_str());
        assert!(!psc.is_empty(), "a row without a claim name: {row:?}");
        if ours.starts_with("not from the card") {
            not_from_the_card += 1;
            for claim in psc {
                assert!(
                    id_token.get(claim).is_none() && userinfo.get(claim).is_none(),
                    "README says {claim} is not from the card, yet the provider gives it"
                );
            }
        } else {
            let named = names_in(ours);
            assert!(!named.is_empty(), "no cpx-idp claim named in {row:?}");
            for claim in named {
                assert!(
                    id_token.get(claim).is_some(),
                    "README maps to {claim}, missing from the ID token: {id_token}"
                );
            }
        }
    }
    assert!(not_from_the_card >= 5, "{rows:?}");
    // The acr value the table promises a Pro Santé Connect site.
    assert_eq!(id_token["acr"], "eidas1");
    Ok(())
}

#[tokio::test]
async fn the_claims_table_lists_exactly_the_claims_emitted() -> TestResult {
    let rows = table("## Claims", "| claim | from |")?;
    let listed: BTreeSet<&str> = rows.iter().flat_map(|row| names_in(&row[0])).collect();
    let idp = provider()?;
    let (id_token, userinfo) = claims_for(&idp, &site_query("")).await?;
    let emitted: BTreeSet<&str> = [&id_token, &userinfo]
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(|claims| claims.keys().map(String::as_str))
        .collect();
    assert_eq!(
        listed, emitted,
        "README's claim table against the claims emitted"
    );
    Ok(())
}
