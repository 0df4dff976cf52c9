//! `cpx-idp serve --config idp.toml [--demo]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use cpx_idp::{build_router, keys, ConfigError, KeySet, Provider, ProviderConfig};
use cpx_web::server::{self, ServeLimits, TlsIdentity};

#[derive(Parser)]
#[command(
    name = "cpx-idp",
    version,
    about = "OpenID Connect provider: log in with a CPx card"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the provider.
    Serve {
        /// The configuration file (TOML); see idp/README.md.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Demonstration: make the signing key files that are missing. Never in production:
        /// a provider must not change keys by itself.
        #[arg(long)]
        demo: bool,
    },
}

/// Reads and checks everything a start needs; a mistake is one line naming the entry.
fn prepare(
    config_path: &std::path::Path,
    demo: bool,
) -> Result<(ProviderConfig, KeySet), ConfigError> {
    let config = ProviderConfig::load(config_path)?;
    if demo {
        for entry in &config.signing_keys {
            if keys::generate_missing(entry)? {
                eprintln!(
                    "cpx-idp: demo mode: made signing key {} in {}",
                    entry.kid,
                    entry.file.display()
                );
            }
        }
    }
    let keys = KeySet::load(&config.signing_keys)?;
    Ok((config, keys))
}

fn main() -> ExitCode {
    let Cli {
        command: Command::Serve { config, demo },
    } = Cli::parse();
    let (config, keys) = match prepare(&config, demo) {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("cpx-idp: configuration refused: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cpx-idp: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The stores are opened inside the runtime: Redis is reached with it. The trust files
    // and the store's Redis are checked here, one line naming the entry as the rest.
    let provider = match runtime.block_on(Provider::open(config, keys)) {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("cpx-idp: configuration refused: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(provider)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpx-idp: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(provider: Provider) -> Result<(), String> {
    let listen = provider.config.listen;
    let tls = provider.config.tls.clone();
    let issuer = provider.config.issuer.clone();
    let limits = ServeLimits {
        max_connections: provider.config.limits.max_connections,
        header_read_timeout: provider.config.limits.header_read_timeout,
    };
    let provider = Arc::new(provider);
    let reloading = provider.clone();
    cpx_web::reload::spawn_every_and_on_hangup(provider.config.trust.crl_reload, move |why| {
        match reloading.reload_crls_from_disk() {
            Ok(count) => eprintln!("cpx-idp: CRLs reloaded ({why}): {count} CAs covered"),
            Err(error) => {
                eprintln!("cpx-idp: CRLs not reloaded ({why}), the previous ones stay: {error}")
            }
        }
    });
    let router = build_router(provider);
    match tls {
        Some((certificate, key)) => {
            // As the demo serves: connections capped, handshake and headers in time.
            let identity = TlsIdentity::from_pem_files(&certificate, &key)
                .map_err(|error| error.to_string())?;
            let listener = server::bind(listen).map_err(|error| error.to_string())?;
            eprintln!("cpx-idp: serving {issuer} on https://{listen}");
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stop_requested().await;
                stopper.graceful_shutdown(Some(IN_FLIGHT_GRACE));
            });
            server::serve_with(listener, router, &identity, handle, limits)
                .await
                .map_err(|error| error.to_string())
        }
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|error| format!("{listen}: {error}"))?;
            // Behind a proxy: the proxy holds the clients' connections and their limits.
            eprintln!("cpx-idp: serving {issuer} on http://{listen} (TLS by the proxy in front)");
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stop_requested())
            .await
            .map_err(|error| format!("{listen}: {error}"))
        }
    }
}

/// How long requests in flight may take to finish once a stop is asked (HTTPS; behind a
/// proxy, axum waits for them all, each bounded by the read timeouts).
const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Ctrl-C, or SIGTERM (what systemd, Kubernetes and a load balancer's drain send): no new
/// connection is taken, the requests in flight finish, then the process ends.
async fn stop_requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate() => {}
    }
    eprintln!("cpx-idp: stopping (requests in flight finish)");
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            terminate.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
