//! Request bodies streamed from shared chunks.
//!
//! The file payload is generated once per run and cut into [`CHUNK`]-sized `Bytes` slices that
//! every request shares (cloning a `Bytes` only bumps a reference count): a request adds its own
//! small multipart head (the text fields and the file part's headers) and the common tail.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Size of the slices the payload is handed to hyper in.
pub const CHUNK: usize = 1 << 20;

/// The payload of a run, cut into shared slices.
#[derive(Clone)]
pub struct Payload {
    chunks: Arc<[Bytes]>,
    len: u64,
}

impl Payload {
    /// `size` bytes of random data (not compressible, not all zeroes).
    pub fn random(size: usize) -> Payload {
        use rand::RngCore;
        let mut data = vec![0u8; size];
        rand::rng().fill_bytes(&mut data);
        Payload::from_bytes(Bytes::from(data))
    }

    pub fn from_bytes(data: Bytes) -> Payload {
        let len = data.len() as u64;
        let chunks: Vec<Bytes> = (0..data.len())
            .step_by(CHUNK)
            .map(|start| data.slice(start..(start + CHUNK).min(data.len())))
            .collect();
        Payload {
            chunks: chunks.into(),
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// The bytes of `range` (a resumable upload's chunk), sharing the same memory.
    pub fn slice(&self, range: std::ops::Range<u64>) -> Payload {
        let mut chunks = Vec::new();
        let mut at = 0u64;
        for c in self.chunks.iter() {
            let (start, end) = (at, at + c.len() as u64);
            at = end;
            let (from, to) = (range.start.max(start), range.end.min(end));
            if from < to {
                chunks.push(c.slice((from - start) as usize..(to - start) as usize));
            }
        }
        Payload {
            chunks: chunks.into(),
            len: range.end.min(self.len).saturating_sub(range.start),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One request's body: `head`, the payload's slices, `tail`.
pub struct ChunkBody {
    head: Option<Bytes>,
    payload: Payload,
    next: usize,
    tail: Option<Bytes>,
    remaining: u64,
}

impl ChunkBody {
    /// The payload alone (a raw PUT).
    pub fn raw(payload: Payload) -> ChunkBody {
        ChunkBody::framed(Bytes::new(), payload, Bytes::new())
    }

    /// The payload between `head` and `tail` (a multipart form).
    pub fn framed(head: Bytes, payload: Payload, tail: Bytes) -> ChunkBody {
        let remaining = head.len() as u64 + payload.len() + tail.len() as u64;
        ChunkBody {
            head: Some(head).filter(|b| !b.is_empty()),
            payload,
            next: 0,
            tail: Some(tail).filter(|b| !b.is_empty()),
            remaining,
        }
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(head) = self.head.take() {
            return Some(head);
        }
        if let Some(chunk) = self.payload.chunks.get(self.next) {
            self.next += 1;
            return Some(chunk.clone());
        }
        self.tail.take()
    }
}

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = self.next_chunk();
        if let Some(chunk) = &chunk {
            self.remaining -= chunk.len() as u64;
        }
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The multipart framing of a run: its boundary and the common tail.
#[derive(Clone)]
pub struct Multipart {
    boundary: String,
    tail: Bytes,
}

impl Multipart {
    pub fn new(boundary: String) -> Multipart {
        let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
        Multipart { boundary, tail }
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// A body of the text `fields` (in order), then the `file` part named `file_name`, or the
    /// file part first when `file_first`.
    pub fn body(
        &self,
        fields: &[(&str, &str)],
        file_name: &str,
        payload: &Payload,
        file_first: bool,
    ) -> ChunkBody {
        let b = &self.boundary;
        let file_head = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n",
            quoted(file_name)
        );
        let mut text = String::with_capacity(128 * (fields.len() + 1));
        for (name, value) in fields {
            text.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                quoted(name)
            ));
        }
        if file_first {
            // The text parts go after the file: "\r\n" closes the file part first.
            let tail = format!("\r\n{text}--{b}--\r\n");
            ChunkBody::framed(Bytes::from(file_head), payload.clone(), Bytes::from(tail))
        } else {
            text.push_str(&file_head);
            ChunkBody::framed(Bytes::from(text), payload.clone(), self.tail.clone())
        }
    }
}

/// A header parameter value with the characters that would end it escaped the way browsers do.
fn quoted(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: ChunkBody) -> Vec<u8> {
        let hint = body.size_hint().exact();
        let bytes = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(hint, Some(bytes.len() as u64));
        bytes.to_vec()
    }

    async fn parse(body: Vec<u8>, boundary: &str) -> Vec<(String, Vec<u8>)> {
        let stream =
            futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
        let mut form = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        while let Some(field) = form.next_field().await.expect("well-formed multipart") {
            let name = field.name().unwrap_or_default().to_owned();
            let data = field.bytes().await.expect("part body");
            parts.push((name, data.to_vec()));
        }
        parts
    }

    #[tokio::test]
    async fn a_multipart_body_parses_back_to_its_fields_and_payload() {
        // Three chunks and a bit, so the slicing is exercised.
        let payload = Payload::random(3 * CHUNK + 17);
        let expected = {
            let mut all = Vec::new();
            for c in payload.chunks.iter() {
                all.extend_from_slice(c);
            }
            all
        };
        let form = Multipart::new("b0undary-x".to_owned());
        for file_first in [false, true] {
            let body = form.body(
                &[("fileName", "f-1.bin"), ("useUniqueFileName", "false")],
                "f-1.bin",
                &payload,
                file_first,
            );
            let parts = parse(collect(body).await, "b0undary-x").await;
            let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
            if file_first {
                assert_eq!(names, ["file", "fileName", "useUniqueFileName"]);
            } else {
                assert_eq!(names, ["fileName", "useUniqueFileName", "file"]);
            }
            let file = parts.iter().find(|(n, _)| n == "file").expect("file part");
            assert_eq!(file.1, expected);
            let name = parts.iter().find(|(n, _)| n == "fileName").expect("name");
            assert_eq!(name.1, b"f-1.bin");
        }
    }

    #[tokio::test]
    async fn a_raw_body_is_the_payload_and_an_empty_one_ends_at_once() {
        let payload = Payload::from_bytes(Bytes::from_static(b"hello"));
        assert_eq!(collect(ChunkBody::raw(payload)).await, b"hello");
        let empty = ChunkBody::raw(Payload::from_bytes(Bytes::new()));
        assert!(empty.is_end_stream());
        assert!(collect(empty).await.is_empty());
    }
}
