//! `cpx-demo serve ...` and `cpx-demo add-user ...`: see demo/README.md.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cpx_demo::config::{default_page_library, read_der_files};
use cpx_demo::oidc::{OidcConfig, OidcSetupError, ProviderHttp};
use cpx_demo::server::{self, ServeError};
use cpx_demo::{
    build_router, seed_demo_user, AccountStore, AppError, AppState, ConfigError, DemoConfig,
    StoreError,
};

#[derive(Parser)]
#[command(
    name = "cpx-demo",
    version,
    about = "CPx Connect demo relying party: login by CPx card with first-time account linking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the demo site over HTTPS (self-signed certificate made at start-up).
    Serve(ServeArgs),
    /// Create a username/password account.
    AddUser {
        username: String,
        #[arg(long)]
        password: String,
        /// Display name, e.g. "Marie Dupont".
        #[arg(long)]
        name: String,
        /// SQLite database of accounts and card links (created if missing).
        #[arg(long, default_value = "demo.sqlite")]
        db: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Oidc(#[from] OidcSetupError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::AddUser {
            username,
            password,
            name,
            db,
        } => run_add_user(&db, &username, &password, &name),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpx-demo: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `serve`'s options.
#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: SocketAddr,
    /// The site's origin as the browser sees it; tokens must be made for exactly this origin.
    #[arg(long, default_value = "https://localhost:8443")]
    origin: String,
    /// SQLite database of accounts and card links (created if missing).
    #[arg(long, default_value = "demo.sqlite")]
    db: PathBuf,
    /// DER certificate of a CA whose cards may log in (repeat for several).
    #[arg(long = "trust-anchor", value_name = "DER", required = true, num_args = 1..)]
    trust_anchors: Vec<PathBuf>,
    /// DER CRL to apply (repeat for several): one for every CA of the path, read again every
    /// --crl-reload-minutes and on SIGHUP.
    #[arg(long = "crl", value_name = "DER", num_args = 1..)]
    crls: Vec<PathBuf>,
    /// DER certificate of an intermediate CA between the cards and an anchor.
    #[arg(long = "intermediate", value_name = "DER", num_args = 1..)]
    intermediates: Vec<PathBuf>,
    /// DER certificate of a configured CA whose cards are accepted without a CRL.
    #[arg(long = "no-crl-for", value_name = "DER", num_args = 1..)]
    no_crl_for: Vec<PathBuf>,
    /// Accepted certificate policy OID (repeat for several; none: any policy).
    #[arg(long = "policy", value_name = "OID", num_args = 1..)]
    policies: Vec<String>,
    /// Accept test CAs (a TEST word in their subject) as anchors: for the demo and tests only.
    #[arg(long)]
    allow_test_anchors: bool,
    /// Minutes between two readings of the --crl files.
    #[arg(long, default_value_t = 60)]
    crl_reload_minutes: u64,
    /// The extension's page library, served as /static/cpx-connect.js
    /// [default: extension/page/cpx-connect.js in this repository].
    #[arg(long, value_name = "PATH")]
    page_library: Option<PathBuf>,
    /// Create the account marie.dupont / demo1234 if it does not exist.
    #[arg(long)]
    seed_demo_user: bool,
    /// Keep challenges and browser sessions in this Redis (`redis://host:port/db`), shared
    /// by every instance of the site; default: in this process's memory.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// With a rediss:// store: the CA certificate (PEM) of the Redis server's certificate,
    /// instead of the system's roots.
    #[arg(long, value_name = "PEM")]
    store_ca: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeatable; default: none, the
    /// peer address is the client).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// New sessions one client (IPv4 address, IPv6 /64) may make at once, before one per
    /// 2 seconds (default 30; a benchmark from one machine raises it).
    #[arg(long, value_name = "N")]
    client_session_burst: Option<u32>,
    /// Challenges one client may ask at once, before one per 2 seconds (default 20).
    #[arg(long, value_name = "N")]
    client_challenge_burst: Option<u32>,
    /// The OpenID Connect provider of the « Se connecter avec CPx Connect (OpenID Connect) »
    /// button (e.g. cpx-idp's issuer); without it, no such button.
    #[arg(long, value_name = "URL", requires_all = ["oidc_client_id", "oidc_client_secret_file"])]
    oidc_issuer: Option<String>,
    /// This site's client_id at the provider.
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// A file holding this site's client secret at the provider (not on the command line,
    /// where other users of the machine see it).
    #[arg(long, value_name = "PATH", requires = "oidc_issuer")]
    oidc_client_secret_file: Option<PathBuf>,
    /// A CA certificate (PEM) the provider's HTTPS certificate chains to, besides the system's.
    #[arg(long, value_name = "PEM", requires = "oidc_issuer")]
    oidc_provider_ca: Option<PathBuf>,
}

fn run_serve(args: ServeArgs) -> Result<(), CliError> {
    let trust_anchors_der = read_der_files(&args.trust_anchors, "certificate")?;
    if trust_anchors_der.is_empty() {
        return Err(ConfigError::NoTrustAnchor.into());
    }
    let mut config = DemoConfig::new(&args.origin, args.db, trust_anchors_der)?;
    config.crls_der = read_der_files(&args.crls, "CRL")?;
    config.crl_paths = args.crls.clone();
    config.intermediates_der = read_der_files(&args.intermediates, "certificate")?;
    config.no_crl_for_der = read_der_files(&args.no_crl_for, "certificate")?;
    config.certificate_policies = args.policies.clone();
    config.allow_test_anchors = args.allow_test_anchors;
    config.store_url = args.store.clone();
    config.store_ca = args.store_ca.clone();
    config.trusted_proxies = args.trusted_proxies.clone();
    if let Some(burst) = args.client_session_burst {
        config.session_creation_burst = burst;
    }
    if let Some(burst) = args.client_challenge_burst {
        config.challenge_burst = burst;
    }
    config.page_library = args.page_library.unwrap_or_else(default_page_library);
    if let (Some(issuer), Some(client_id), Some(secret_file)) = (
        &args.oidc_issuer,
        &args.oidc_client_id,
        &args.oidc_client_secret_file,
    ) {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| ConfigError::UnreadableFile {
                path: path.clone(),
                source,
            })
        };
        let secret = String::from_utf8_lossy(&read(secret_file)?)
            .trim()
            .to_owned();
        let ca = args.oidc_provider_ca.as_ref().map(read).transpose()?;
        let http = ProviderHttp::network(ca.as_deref())?;
        config.oidc = Some(OidcConfig::new(
            issuer,
            client_id,
            &secret,
            &config.origin,
            http,
        )?);
    }

    // Bind before anything slow, so a busy port is the first thing reported.
    let listener = server::bind(args.addr)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let state = runtime.block_on(AppState::connect(config))?;
    if args.seed_demo_user && seed_demo_user(state.store())? {
        eprintln!(
            "cpx-demo: created the demo account {} / {}",
            cpx_demo::DEMO_USERNAME,
            cpx_demo::DEMO_PASSWORD
        );
    }
    if !state.config().page_library.is_file() {
        eprintln!(
            "cpx-demo: warning: page library {} not found; the login page will say the extension is not available",
            state.config().page_library.display()
        );
    }
    let identity = server::self_signed_identity(&state.config().origin)?;
    eprintln!(
        "cpx-demo: serving {} on https://{} (self-signed certificate, SHA-256 {})",
        state.config().origin,
        args.addr,
        identity.fingerprint()
    );

    let reload_every =
        std::time::Duration::from_secs(args.crl_reload_minutes.max(1).saturating_mul(60));
    runtime.block_on(async move {
        spawn_crl_reloads(state.clone(), reload_every);
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cpx-demo: stopping");
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            }
        });
        let limits = state.config().serve_limits();
        server::serve_with(listener, build_router(state), &identity, handle, limits).await
    })?;
    Ok(())
}

/// Reads the CRL files again on a schedule and on SIGHUP, without a restart; a failed reading
/// keeps the CRLs in force and says why.
fn spawn_crl_reloads(state: AppState, every: std::time::Duration) {
    cpx_web::reload::spawn_every_and_on_hangup(every, move |why| {
        match state.reload_crls_from_disk() {
            Ok(count) => eprintln!("cpx-demo: CRLs reloaded ({why}): {count} CAs covered"),
            Err(error) => {
                eprintln!("cpx-demo: CRLs not reloaded ({why}), the previous ones stay: {error}")
            }
        }
    });
}

fn run_add_user(
    db: &std::path::Path,
    username: &str,
    password: &str,
    name: &str,
) -> Result<(), CliError> {
    let store = AccountStore::open(db)?;
    let account = store.create_account(username, name, password)?;
    eprintln!(
        "cpx-demo: created account {} ({}) in {}",
        account.username,
        account.display_name,
        db.display()
    );
    Ok(())
}
