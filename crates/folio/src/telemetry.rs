//! Logging: compact text by default, JSON with `FOLIO_LOG_FORMAT=json`; the filter comes from
//! `FOLIO_LOG` (e.g. `folio=debug`). Keys, tokens and Authorization values are never logged.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("FOLIO_LOG")
        .unwrap_or_else(|_| EnvFilter::new("folio=info,tower_http=warn"));
    let json = std::env::var("FOLIO_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second init (tests start several servers in one process) is not an error.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
