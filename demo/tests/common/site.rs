//! The whole site over real HTTPS on a free port of 127.0.0.1, with the fixture accounts.

use std::net::{IpAddr, SocketAddr};

use cpx_demo::server;
use cpx_demo::{build_router, AppState, DemoConfig};
use reqwest::Client;

use super::{
    fixture, read_fixture, test_ca_config, TestError, MARIE_PASSWORD, MARIE_USERNAME,
    PIERRE_PASSWORD, PIERRE_USERNAME,
};

/// A running site on a free port of 127.0.0.1, known to the client as `localhost`.
pub struct Site {
    pub origin: String,
    pub state: AppState,
    handle: axum_server::Handle<SocketAddr>,
    _workdir: tempfile::TempDir,
}

impl Site {
    pub async fn start() -> Result<Self, TestError> {
        Self::start_with(|_| {}).await
    }

    /// A site whose configuration `adjust` may change before it starts.
    pub async fn start_with(adjust: impl FnOnce(&mut DemoConfig)) -> Result<Self, TestError> {
        let workdir = tempfile::tempdir()?;
        let listener = server::bind("127.0.0.1:0".parse()?)?;
        let port = listener.local_addr()?.port();
        let origin = format!("https://localhost:{port}");
        let mut config = test_ca_config(&origin, workdir.path().join("demo.sqlite"))?;
        config.crl_paths = vec![fixture("test-ca.crl.der")];
        config.page_library = workdir.path().join("no-page-library.js");
        adjust(&mut config);
        let state = AppState::new(config)?;
        state
            .store()
            .create_account(MARIE_USERNAME, "Marie Dupont", MARIE_PASSWORD)?;
        state
            .store()
            .create_account(PIERRE_USERNAME, "Pierre Martin", PIERRE_PASSWORD)?;

        let identity = server::self_signed_identity(&origin)?;
        let handle = axum_server::Handle::new();
        let router = build_router(state.clone());
        let limits = state.config().serve_limits();
        let server_handle = handle.clone();
        tokio::spawn(async move {
            if let Err(error) =
                server::serve_with(listener, router, &identity, server_handle, limits).await
            {
                eprintln!("test server stopped: {error}");
            }
        });
        Ok(Self {
            origin,
            state,
            handle,
            _workdir: workdir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A browser: its own cookie jar, the site's self-signed certificate accepted, redirects
    /// not followed (so tests see where they point).
    pub fn browser(&self) -> Result<Client, TestError> {
        self.browser_from(IpAddr::from([127, 0, 0, 1]))
    }

    /// A browser whose connections come from `local` (any 127.x.y.z works on Linux): another
    /// client, as far as the per-client limits are concerned.
    pub fn browser_from(&self, local: IpAddr) -> Result<Client, TestError> {
        let port = self.origin.rsplit(':').next().unwrap_or_default().parse()?;
        Ok(Client::builder()
            .local_address(local)
            .cookie_store(true)
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
            .build()?)
    }

    pub fn linked_account_of(&self, id_nat: &str) -> Option<String> {
        let anchor_id = cpx_verify::TrustConfig::new(vec![read_fixture("test-ca.der").ok()?])
            .ok()?
            .anchor_ids()
            .pop()?;
        self.state
            .store()
            .account_for_card(&anchor_id, id_nat)
            .ok()
            .flatten()
            .map(|account| account.username)
    }
}

/// A page of the site: its status and its text.
pub async fn page(
    client: &Client,
    site: &Site,
    path: &str,
) -> Result<(reqwest::StatusCode, String), TestError> {
    let response = client.get(site.url(path)).send().await?;
    Ok((response.status(), response.text().await?))
}

pub async fn post_form(
    client: &Client,
    site: &Site,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response, TestError> {
    Ok(client.post(site.url(path)).form(fields).send().await?)
}

/// A username/password form (`/connexion` or `/lier`), posted with the page's CSRF token.
pub async fn post_credentials(
    client: &Client,
    site: &Site,
    path: &str,
    csrf: &str,
    username: &str,
    password: &str,
) -> Result<reqwest::Response, TestError> {
    post_form(
        client,
        site,
        path,
        &[
            ("csrf", csrf),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

impl Drop for Site {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}
