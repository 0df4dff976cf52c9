//! `cpx-idp serve --config idp.toml [--demo]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cpx_idp::{build_router, keys, ConfigError, KeySet, Provider, ProviderConfig};

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
fn prepare(config_path: &std::path::Path, demo: bool) -> Result<Provider, ConfigError> {
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
    Provider::in_memory(config, keys)
}

fn main() -> ExitCode {
    let Cli {
        command: Command::Serve { config, demo },
    } = Cli::parse();
    let provider = match prepare(&config, demo) {
        Ok(provider) => provider,
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
    let app = build_router(provider).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some((certificate, key)) => {
            // The provider is named here, not taken from whichever rustls features are on.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&certificate, &key)
                .await
                .map_err(|error| format!("TLS certificate or key: {error}"))?;
            eprintln!("cpx-idp: serving {issuer} on https://{listen}");
            axum_server::bind_rustls(listen, tls)
                .serve(app)
                .await
                .map_err(|error| format!("{listen}: {error}"))
        }
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|error| format!("{listen}: {error}"))?;
            eprintln!("cpx-idp: serving {issuer} on http://{listen} (TLS by the proxy in front)");
            axum::serve(listener, app)
                .await
                .map_err(|error| format!("{listen}: {error}"))
        }
    }
}
