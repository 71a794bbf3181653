//! Folio: a self-hosted media library whose upload API is wire-compatible with ImageKit's
//! Upload API V2. The binary (`src/main.rs`) is thin glue over this library; integration
//! tests start the same server through [`server::start`].

pub mod accounts;
pub mod backup;
pub mod cli;
pub mod config;
pub mod console;
pub mod custom_fields;
pub mod delivery;
pub mod error;
pub mod extensions;
pub mod fairness;
pub mod fsck;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod migrate_store;
pub mod resumable;
pub mod server;
pub mod state;
pub mod store;
pub mod sweeper;
pub mod telemetry;
pub mod upload;
pub mod web;
pub mod webhooks;
