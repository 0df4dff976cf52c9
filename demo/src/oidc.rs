//! The site as an OpenID Connect client of a card login provider (`cpx-idp`, or any provider
//! giving the same claims): the « Se connecter avec CPx Connect (OpenID Connect) » button.
//! The protocol is the `openidconnect` crate's: discovery, the authorization code flow with
//! PKCE S256, `state` and `nonce`, the ID token checked against the provider's JWKS. The
//! routes are in `routes/oidc.rs`.
//!
//! The key of a holder is the provider's (issuer, `sub`), never `preferred_username` or
//! `SubjectNameID` (the idNat): OpenID Connect promises only that pair stable and unique
//! (Core 1.0, 5.7), cpx-idp derives `sub` from (trust anchor, idNat), the very pair the card
//! login keys on, and the site cannot see which anchor the provider trusted for an idNat.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AsyncHttpClient, ClientId, ClientSecret, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl,
    LogoutProviderMetadata, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// A request to the provider, answered.
pub type ExchangeFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse, ProviderHttpError>> + Send>>;

/// How the site reaches its provider for discovery, the JWKS and the token endpoint.
#[derive(Clone)]
pub enum ProviderHttp {
    /// Over the network (HTTPS), without following redirects (the crate's advice against
    /// request forgery through a provider's answer).
    Network(reqwest::Client),
    /// Any other way, e.g. a provider served in the same process by a test.
    Custom(Arc<dyn Fn(HttpRequest) -> ExchangeFuture + Send + Sync>),
}

impl fmt::Debug for ProviderHttp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ProviderHttp::Network(_) => "ProviderHttp::Network",
            ProviderHttp::Custom(_) => "ProviderHttp::Custom",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderHttpError(pub String);

impl ProviderHttp {
    /// HTTPS to the provider; `extra_ca_pem`: a CA certificate to trust besides the system's
    /// (the demo's self-signed provider).
    pub fn network(extra_ca_pem: Option<&[u8]>) -> Result<Self, OidcSetupError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15));
        if let Some(pem) = extra_ca_pem {
            // reqwest reads PEM lazily: a file with no certificate in it would pass unnoticed.
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|error| OidcSetupError(format!("provider CA: {error}")))?;
            if certificates.is_empty() {
                return Err(OidcSetupError(
                    "provider CA: no PEM certificate in the file".to_owned(),
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder
            .build()
            .map(ProviderHttp::Network)
            .map_err(|error| OidcSetupError(format!("HTTP client: {error}")))
    }

    fn exchange(&self, request: HttpRequest) -> ExchangeFuture {
        match self {
            ProviderHttp::Network(client) => {
                let client = client.clone();
                Box::pin(async move {
                    client
                        .call(request)
                        .await
                        .map_err(|error| ProviderHttpError(describe(&error)))
                })
            }
            ProviderHttp::Custom(exchange) => exchange(request),
        }
    }
}

/// An error with its causes (reqwest's own text hides the reason a connection failed).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
#[error("OpenID Connect configuration: {0}")]
pub struct OidcSetupError(pub String);

/// The provider and this site's registration there.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    /// This site's `/oidc/retour`, as registered at the provider.
    pub redirect_uri: RedirectUrl,
    /// Where the provider sends the browser after its logout (this site's `/`).
    pub post_logout_redirect_uri: PostLogoutRedirectUrl,
    pub http: ProviderHttp,
}

impl OidcConfig {
    /// The registration of a site at `origin` (its redirect URI `{origin}/oidc/retour`, its
    /// post-logout URI `{origin}/`).
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        origin: &str,
        http: ProviderHttp,
    ) -> Result<Self, OidcSetupError> {
        let bad = |what: &str, error: &dyn fmt::Display| OidcSetupError(format!("{what}: {error}"));
        Ok(Self {
            issuer: IssuerUrl::new(issuer.to_owned()).map_err(|error| bad("issuer", &error))?,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: ClientSecret::new(client_secret.to_owned()),
            redirect_uri: RedirectUrl::new(format!("{origin}/oidc/retour"))
                .map_err(|error| bad("redirect URI", &error))?,
            post_logout_redirect_uri: PostLogoutRedirectUrl::new(format!("{origin}/"))
                .map_err(|error| bad("post-logout URI", &error))?,
            http,
        })
    }
}

/// The client after discovery.
pub(crate) type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub(crate) struct Discovered {
    pub(crate) client: DiscoveredClient,
    /// RP-initiated logout (`end_session_endpoint`), if the provider has one.
    pub(crate) end_session: Option<EndSessionUrl>,
    /// The provider names itself in every authorization answer (RFC 9207): an answer without
    /// `iss` is then refused (2.4), as one naming another issuer always is.
    pub(crate) answers_name_the_issuer: bool,
}

/// RFC 9207's entry of the discovery document, beside RP-initiated logout's.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct IssParameterMetadata {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameterMetadata {}

/// The discovery document as this site reads it: the crate's core types, with the end-session
/// endpoint and RFC 9207's flag.
type DiscoveredMetadata = ProviderMetadata<
    LogoutProviderMetadata<IssParameterMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

impl Discovered {
    /// The ID-token check: signature with a key of the JWKS, `iss`, `aud`, `exp`, and the
    /// algorithms cpx-idp signs with (RS256, as Pro Santé Connect, or ES256); never a MAC
    /// keyed with the client secret.
    pub(crate) fn id_token_verifier(&self) -> CoreIdTokenVerifier<'_> {
        self.client.id_token_verifier().set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ])
    }
}

/// The provider as the routes use it: discovery made at the first login (a provider down at
/// the site's start does not stop the site) and kept once it succeeded; made again when an ID
/// token is signed with a key the kept JWKS does not have (the provider rotated its keys).
pub struct OidcProvider {
    pub(crate) config: OidcConfig,
    discovered: Mutex<Option<Arc<Discovered>>>,
}

/// The provider could not be reached, or answered something unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderUnavailable(pub String);

impl OidcProvider {
    pub fn new(config: OidcConfig) -> Self {
        Self {
            config,
            discovered: Mutex::new(None),
        }
    }

    /// The client this site's code flow uses. Logins that arrive during the first discovery
    /// wait for it rather than each asking the provider.
    pub(crate) async fn discovered(&self) -> Result<Arc<Discovered>, ProviderUnavailable> {
        let mut kept = self.discovered.lock().await;
        if let Some(discovered) = kept.as_ref() {
            return Ok(Arc::clone(discovered));
        }
        let fresh = self.discover().await?;
        *kept = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Discovery and the JWKS again (an ID token the kept keys could not check). Only an
    /// answer of the provider's own token endpoint leads here, so a visitor cannot make the
    /// site hammer the provider.
    pub(crate) async fn rediscover(&self) -> Result<Arc<Discovered>, ProviderUnavailable> {
        let fresh = self.discover().await?;
        *self.discovered.lock().await = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    async fn discover(&self) -> Result<Arc<Discovered>, ProviderUnavailable> {
        let http = self.http_client();
        let metadata = DiscoveredMetadata::discover_async(self.config.issuer.clone(), &http)
            .await
            .map_err(|error| ProviderUnavailable(format!("discovery: {}", describe(&error))))?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let answers_name_the_issuer = metadata
            .additional_metadata()
            .additional_metadata
            .authorization_response_iss_parameter_supported;
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.config.client_id.clone(),
            Some(self.config.client_secret.clone()),
        )
        .set_redirect_uri(self.config.redirect_uri.clone());
        Ok(Arc::new(Discovered {
            client,
            end_session,
            answers_name_the_issuer,
        }))
    }

    /// The HTTP client the crate calls.
    pub(crate) fn http_client(&self) -> impl Fn(HttpRequest) -> ExchangeFuture + '_ {
        move |request| self.config.http.exchange(request)
    }
}

#[cfg(test)]
mod tests {
    use super::IssParameterMetadata;

    #[test]
    fn a_provider_that_does_not_say_it_names_itself_may_answer_without_iss() {
        let read = |json: &str| {
            serde_json::from_str::<IssParameterMetadata>(json)
                .map(|metadata| metadata.authorization_response_iss_parameter_supported)
                .map_err(|error| error.to_string())
        };
        assert_eq!(read(r#"{"issuer": "https://idp.example"}"#), Ok(false));
        assert_eq!(
            read(r#"{"authorization_response_iss_parameter_supported": false}"#),
            Ok(false)
        );
        assert_eq!(
            read(r#"{"authorization_response_iss_parameter_supported": true}"#),
            Ok(true)
        );
        assert!(read(r#"{"authorization_response_iss_parameter_supported": "yes"}"#).is_err());
    }
}
