//! `folio-example-backend`: runs the reference token endpoint and webhook receiver (see the
//! library docs).
//!
//! ```sh
//! FOLIO_PUBLIC_KEY=public_… FOLIO_PRIVATE_KEY=private_… BACKEND_BEARER_TOKEN=$(openssl rand -hex 16) \
//!   FOLIO_WEBHOOK_SECRET=whsec_… cargo run -p folio-example-backend
//! ```

use std::process::ExitCode;

use folio_example_backend::{router, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(problem) => {
            eprintln!("error: {problem}");
            eprintln!(
                "usage: FOLIO_PUBLIC_KEY=… FOLIO_PRIVATE_KEY=… BACKEND_BEARER_TOKEN=… \
                 [FOLIO_WEBHOOK_SECRET=whsec_…] [BACKEND_LISTEN=127.0.0.1:3001] \
                 [BACKEND_ALLOW_ORIGIN=https://app.example.com] folio-example-backend"
            );
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", settings.listen);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            println!("Token endpoint listening: POST http://{addr}/auth");
            if settings.webhook_secret.is_some() {
                println!("Webhook receiver: POST http://{addr}/webhooks");
                println!("Files learned from file.created: GET http://{addr}/files");
            } else {
                println!(
                    "Webhook receiver off: POST http://{addr}/webhooks answers 503 until \
                     FOLIO_WEBHOOK_SECRET is set (`folio webhooks add http://{addr}/webhooks \
                     --events file.created` prints it)"
                );
            }
        }
        Err(e) => eprintln!("warning: cannot read the bound address: {e}"),
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, router(settings))
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
