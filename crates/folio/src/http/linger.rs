//! Reading what the parsers left of a request body before answering (a "lingering close").
//!
//! hyper closes a connection whose request body was not read to the end, and a client that is
//! still sending then gets a reset instead of the answer: undici's fetch (the Node SDK, and so
//! any Node or browser-style client) fails with `EPIPE` / "Connection error." where it should
//! show e.g. `403` after an early auth rejection (spec §2.5 streaming note) or the replay error
//! of a used token. Found by the compatibility tests (`tests/it/compat.rs`). The same holds for
//! a resumable upload's PATCH refused before its body was read (an offset that does not match,
//! a lease another request holds).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// How long the handler keeps reading an unread rest before it answers anyway.
const LINGER: Duration = Duration::from_secs(10);

/// The request body, shared between the parser (through [`SharedBody::body`]) and the handler,
/// which reads the rest once the parser is dropped.
#[derive(Clone)]
pub struct SharedBody(Arc<Mutex<BodyDataStream>>);

impl SharedBody {
    pub fn new(body: Body) -> Self {
        Self(Arc::new(Mutex::new(body.into_data_stream())))
    }

    /// A body for the parser that reads from the shared stream.
    pub fn body(&self) -> Body {
        Body::from_stream(self.clone())
    }

    /// Reads and discards the rest of the body, at most `limit` bytes and [`LINGER`], so the
    /// client finishes sending and then reads the response. A client silent for `idle` is not
    /// waited for. Call once the parser is dropped.
    pub async fn discard_rest(mut self, limit: u64, idle: Duration) {
        let drain = async {
            let mut seen = 0u64;
            while let Ok(Some(Ok(chunk))) = tokio::time::timeout(idle, self.next()).await {
                seen = seen.saturating_add(chunk.len() as u64);
                if seen > limit {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
}

impl Stream for SharedBody {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Never contended: the parser's clone is dropped before the handler drains.
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        inner.poll_next_unpin(cx)
    }
}
