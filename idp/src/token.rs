//! `/token` (the code for tokens, after the client proves who it is) and `/userinfo`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cpx_web::secrets::{constant_time_eq, constant_time_eq_bytes, random_token};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::authorize::{is_pkce_value, CodeGrant};
use crate::claims::{identity_claims, subject, wants_identity, Holder};
use crate::config::{Client, ClientAuth};
use crate::jose::{public_keys, UncheckedJws};
use crate::store::{get_json, key_of, put_json, take_json, Kind};
use crate::web::{
    log, now_seconds, param, parse_pairs, too_many, AppState, Provider, ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME, ID_TOKEN_LIFETIME,
};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A client assertion may not claim to live longer than this (its `jti` is kept that long).
const MAX_ASSERTION_LIFETIME: u64 = 600;

/// What an access token gives at `/userinfo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessGrant {
    client_id: String,
    sub: String,
    scopes: Vec<String>,
    holder: Holder,
}

/// A token endpoint error (RFC 6749 §5.2), never cached.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response(),
    )
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `401 invalid_client`, with the challenge RFC 6749 §5.2 asks for.
fn invalid_client(description: &str) -> Response {
    let mut response = token_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"cpx-idp\""),
    );
    response
}

fn invalid_grant(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_request(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// How the request authenticates its client, before it is checked.
enum Presented {
    Secret {
        client_id: String,
        secret: String,
    },
    Assertion {
        client_id: String,
        assertion: String,
    },
}

/// The one authentication method the request uses; more than one is `invalid_request`.
fn presented_client(headers: &HeaderMap, form: &[(String, String)]) -> Result<Presented, Response> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "));
    let post_secret = param(form, "client_secret");
    let assertion = param(form, "client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(post_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(invalid_request("use one client authentication method"));
    }
    if let Some(encoded) = basic {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before the base64.
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let unescape = |text: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={text}"))
                .ok()
                .and_then(|mut pairs| pairs.pop())
                .map(|(_, value)| value)
        };
        let (Some(client_id), Some(secret)) = (unescape(id), unescape(secret)) else {
            return Err(invalid_client("malformed Basic credentials"));
        };
        if param(form, "client_id").is_some_and(|form_id| form_id != client_id) {
            return Err(invalid_request("client_id differs from the credentials"));
        }
        return Ok(Presented::Secret { client_id, secret });
    }
    if let Some(secret) = post_secret {
        let client_id =
            param(form, "client_id").ok_or_else(|| invalid_client("client_id is missing"))?;
        return Ok(Presented::Secret {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
        });
    }
    if let Some(assertion) = assertion {
        if param(form, "client_assertion_type") != Some(JWT_BEARER) {
            return Err(invalid_request("client_assertion_type must be jwt-bearer"));
        }
        let jws = UncheckedJws::parse(assertion)
            .ok_or_else(|| invalid_client("client_assertion is not a JWS"))?;
        let client_id = jws
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_client("client_assertion has no iss"))?
            .to_owned();
        if param(form, "client_id").is_some_and(|form_id| form_id != client_id) {
            return Err(invalid_request("client_id differs from the assertion"));
        }
        return Ok(Presented::Assertion {
            client_id,
            assertion: assertion.to_owned(),
        });
    }
    Err(invalid_client("no client authentication"))
}

/// RFC 7523 §3: iss = sub = client_id, aud names this token endpoint (or the issuer), not
/// expired nor too long-lived, a `jti` never seen, signed by one of the client's keys.
async fn check_assertion(app: &Provider, client: &Client, assertion: &str) -> Result<(), Response> {
    let jws = UncheckedJws::parse(assertion).ok_or_else(|| invalid_client("bad assertion"))?;
    let claims = &jws.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str())
        || text("sub") != Some(client.client_id.as_str())
    {
        return Err(invalid_client(
            "assertion iss and sub must be the client_id",
        ));
    }
    let token_endpoint = app.token_endpoint();
    let audience_ok = |value: &Value| {
        value
            .as_str()
            .is_some_and(|aud| aud == token_endpoint || aud == app.config.issuer)
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::Array(values)) => values.iter().any(audience_ok),
        Some(value) => audience_ok(value),
        None => false,
    };
    if !aud_ok {
        return Err(invalid_client("assertion aud must be the token endpoint"));
    }
    let now = now_seconds();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now || exp > now + MAX_ASSERTION_LIFETIME {
        return Err(invalid_client("assertion expired or too long-lived"));
    }
    let Some(jti) = text("jti").filter(|jti| !jti.is_empty() && jti.len() <= 256) else {
        return Err(invalid_client("assertion has no jti"));
    };
    // Fetched (if published at a URL) only for an assertion whose claims hold: a made-up one
    // never reaches the site's key server.
    let keys = match &client.auth {
        ClientAuth::PrivateKeyJwt { jwks } => public_keys(jwks),
        ClientAuth::PrivateKeyJwtAt { jwks_uri } => {
            let fetched = app
                .client_keys
                .keys(&client.client_id, jwks_uri, jws.kid())
                .await;
            match fetched {
                Ok(keys) => keys,
                Err(error) => {
                    log(&format!("client {}: {error}", client.client_id));
                    return Err(invalid_client("the client's keys could not be fetched"));
                }
            }
        }
        ClientAuth::Secret { .. } => Vec::new(),
    };
    if !jws.verify_with_any(&keys) {
        return Err(invalid_client("assertion signature does not verify"));
    }
    // After the signature: a forged assertion cannot burn a real jti.
    let jti_key = key_of(&format!("{}\n{jti}", client.client_id));
    let ttl = Duration::from_secs(exp - now + 60);
    match app.store.insert_new(Kind::UsedJti, &jti_key, ttl).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(invalid_client("assertion jti already used")),
        Err(error) => {
            log(&format!("store: {error}"));
            Err(token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "store",
            ))
        }
    }
}

/// The client the request proves to be.
async fn authenticated_client(app: &Provider, presented: Presented) -> Result<&Client, Response> {
    let client_id = match &presented {
        Presented::Secret { client_id, .. } | Presented::Assertion { client_id, .. } => client_id,
    };
    let Some(client) = app.config.client(client_id) else {
        return Err(invalid_client("unknown client"));
    };
    // Per client: guessing one client's secret from many addresses still meets a limit.
    if let Err(wait) = cpx_web::throttle::check_key(&app.per_client, &client.client_id) {
        log(&format!("throttled client {}", client.client_id));
        return Err(no_store(too_many(wait)));
    }
    match (&client.auth, presented) {
        (ClientAuth::Secret { sha256 }, Presented::Secret { secret, .. }) => {
            if constant_time_eq_bytes(&Sha256::digest(secret.as_bytes()), sha256) {
                Ok(client)
            } else {
                log(&format!("wrong secret for client {}", client.client_id));
                Err(invalid_client("client authentication failed"))
            }
        }
        (
            ClientAuth::PrivateKeyJwt { .. } | ClientAuth::PrivateKeyJwtAt { .. },
            Presented::Assertion { assertion, .. },
        ) => check_assertion(app, client, &assertion)
            .await
            .map(|()| client),
        _ => Err(invalid_client(
            "this client uses another authentication method",
        )),
    }
}

/// Limited per `client_id`, not per address: a site's server redeems every code of its users
/// from one address.
pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(form) = std::str::from_utf8(&body).ok().and_then(parse_pairs) else {
        return invalid_request("the body is not a form, or repeats a parameter");
    };
    let presented = match presented_client(&headers, &form) {
        Ok(presented) => presented,
        Err(response) => return response,
    };
    let client = match authenticated_client(&app, presented).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match param(&form, "grant_type") {
        Some("authorization_code") => {}
        Some(_) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is served",
            )
        }
        None => return invalid_request("grant_type is missing"),
    }
    let (Some(code), Some(redirect_uri), Some(verifier)) = (
        param(&form, "code"),
        param(&form, "redirect_uri"),
        param(&form, "code_verifier"),
    ) else {
        return invalid_request("code, redirect_uri and code_verifier are required");
    };
    redeem(&app, client, code, redirect_uri, verifier).await
}

async fn redeem(
    app: &Provider,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Response {
    let code_key = key_of(code);
    // Taken atomically: of two requests with one code, one only gets the grant.
    let grant = match take_json::<CodeGrant>(app.store.as_ref(), Kind::Code, &code_key).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            revoke_what_it_gave(app, &code_key).await;
            return invalid_grant("the code is unknown, expired or already used");
        }
        Err(error) => {
            log(&format!("store: {error}"));
            return token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "store",
            );
        }
    };
    let CodeGrant { request, holder } = grant;
    if request.client_id != client.client_id {
        log(&format!(
            "client {} presented a code of client {}",
            client.client_id, request.client_id
        ));
        return invalid_grant("the code was issued to another client");
    }
    if request.redirect_uri != redirect_uri {
        return invalid_grant("redirect_uri differs from the authorization request");
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !is_pkce_value(verifier) || !constant_time_eq(&computed, &request.code_challenge) {
        return invalid_grant("code_verifier does not match the code_challenge");
    }
    let sub = subject(&holder, client, app.config.subject_secret.as_deref());
    let now = now_seconds();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), json!(app.config.issuer));
    claims.insert("sub".into(), json!(sub));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert("exp".into(), json!(now + ID_TOKEN_LIFETIME.as_secs()));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(holder.auth_time));
    if let Some(nonce) = &request.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("acr".into(), json!(app.config.acr));
    // RFC 8176: a smart card ("sc") unlocked by a PIN ("pin").
    claims.insert("amr".into(), json!(["sc", "pin"]));
    if wants_identity(&request.scopes) {
        claims.extend(identity_claims(&holder));
    }
    let id_token = app.keys.sign(&Value::Object(claims));
    let access_token = random_token();
    let access_key = key_of(&access_token);
    let access = AccessGrant {
        client_id: client.client_id.clone(),
        sub,
        scopes: request.scopes.clone(),
        holder,
    };
    let stored = async {
        let lifetime = ACCESS_TOKEN_LIFETIME;
        put_json(
            app.store.as_ref(),
            Kind::AccessToken,
            &access_key,
            &access,
            lifetime,
        )
        .await?;
        // Remembered as long as the token lives: a second presentation of the code revokes it.
        app.store
            .put(
                Kind::RedeemedCode,
                &code_key,
                access_key.clone(),
                ACCESS_TOKEN_LIFETIME,
            )
            .await
    };
    if let Err(error) = stored.await {
        log(&format!("store: {error}"));
        return token_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "store",
        );
    }
    // Presented again while this redemption was under way (the other request found no code,
    // and no redeemed code yet to revoke): nothing leaves, and the token is withdrawn. Read
    // after the redeemed code was written, so one of the two requests always sees the other.
    let refusal = match app.store.get(Kind::ReusedCode, &code_key).await {
        Ok(None) => None,
        Ok(Some(_)) => {
            log("a code was presented again while it was redeemed: nothing is issued");
            Some(invalid_grant("the code was presented twice"))
        }
        Err(error) => {
            log(&format!("store: {error}"));
            Some(token_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "store",
            ))
        }
    };
    if let Some(refusal) = refusal {
        let _ = app.store.delete(Kind::AccessToken, &access_key).await;
        let _ = app.store.delete(Kind::RedeemedCode, &code_key).await;
        return refusal;
    }
    no_store(
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME.as_secs(),
            "id_token": id_token,
            "scope": request.scopes.join(" "),
        }))
        .into_response(),
    )
}

/// A code presented again after it was redeemed: it may have been stolen, so the access
/// token it gave is revoked (RFC 6749 §4.1.2). Marked first, for a redemption still under way
/// (`redeem` reads the mark after writing what it gave), then what was given is revoked.
async fn revoke_what_it_gave(app: &Provider, code_key: &str) {
    let marked = app
        .store
        .put(Kind::ReusedCode, code_key, String::new(), CODE_LIFETIME)
        .await;
    if let Err(error) = marked {
        log(&format!("store: {error}"));
    }
    if let Ok(Some(access_key)) = app.store.take(Kind::RedeemedCode, code_key).await {
        log("a redeemed code was presented again: its access token is revoked");
        let _ = app.store.delete(Kind::AccessToken, &access_key).await;
    }
}

fn invalid_token() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token" })),
    )
        .into_response();
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// `/userinfo` (GET or POST) with `Authorization: Bearer`: `sub`, and the identity claims
/// if the scopes asked for them.
pub async fn userinfo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
    else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    let grant = match get_json::<AccessGrant>(app.store.as_ref(), Kind::AccessToken, &key_of(token))
        .await
    {
        Ok(grant) => grant,
        Err(error) => {
            log(&format!("store: {error}"));
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(grant) = grant else {
        return invalid_token();
    };
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(grant.sub));
    if wants_identity(&grant.scopes) {
        claims.extend(identity_claims(&grant.holder));
    }
    no_store(Json(Value::Object(claims)).into_response())
}
