//! Integration tests: the real server on an ephemeral port, spoken to over HTTP.

mod abuse;
mod auth_basic;
mod auth_token;
mod auth_v1;
mod browser;
mod chaos;
mod checks;
mod cli_files_url;
mod cli_token;
mod compat;
mod connections;
mod custom_metadata;
mod delivery;
mod delivery_signed;
mod demo;
mod edge;
mod extensions;
mod fetch;
mod harness;
mod intake_abuse;
mod params;
mod process;
mod scale_out;
mod storage;
mod transformations;
mod versions;
