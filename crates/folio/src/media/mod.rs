//! The media library API (media-api §2): management endpoints under `/v1/files`, authenticated
//! with HTTP Basic and the private key only (spec §8).

pub mod list;
