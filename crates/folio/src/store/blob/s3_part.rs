//! An S3 part sent while its bytes still arrive.
//!
//! `object_store` sends a part of a multipart upload only from memory
//! (`MultipartStore::put_part` takes the whole payload), so a resumable upload's part could
//! leave only once its PATCH had arrived whole, and each PATCH took the time to receive it
//! plus the time to send it on. Here the UploadPart request starts with the PATCH: its length
//! is known in advance (the PATCH's `Content-Length`), its body is fed as the bytes come, and
//! the PATCH ends about when the part is in.
//!
//! The request is signed with `object_store`'s own SigV4 ([`AwsAuthorizer`], with the same
//! credentials, region and endpoint as the store) and an unsigned payload: the payload's hash
//! would need the bytes before the request starts. Integrity on the way is TLS's (or the
//! loopback's). The caller keeps the part's bytes until the part is in, and a part that fails
//! here is sent again from them through `object_store` (with its retries), so a streamed part
//! is only ever a faster first attempt.

use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer, AwsCredentialProvider};
use object_store::client::HttpRequestBody;
use object_store::path::Path as ObjectPath;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// What SigV4 leaves unencoded in a path segment (RFC 3986's unreserved characters), as
/// `object_store` encodes keys: the URL sent must be the one signed.
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Chunks of the body in flight between the PATCH and the part's request. Few: the bytes are
/// kept by the caller anyway, and a store slower than the client should slow the client.
const CHANNEL_CHUNKS: usize = 8;

/// Streamed parts that failed in a row after which streaming pauses: a store that refuses them
/// all (one that takes no unsigned payload) would otherwise get every part twice.
const PAUSE_AFTER_FAILURES: u64 = 3;

/// How long streaming pauses then, before parts are streamed again (the failures may have been
/// a passing trouble of the store's).
const PAUSE: Duration = Duration::from_secs(600);

/// How streamed parts fared since the start (see [`super::BlobStore::streamed_parts`]).
#[derive(Debug, Default)]
struct PartHealth {
    /// Taken by S3 as they were streamed.
    taken: u64,
    /// Sent again from memory after their request failed.
    resent: u64,
    /// Failed since the last one taken (or the last pause's end).
    failed_in_a_row: u64,
    /// Until when streaming pauses, after [`PAUSE_AFTER_FAILURES`] failures in a row.
    paused_until: Option<tokio::time::Instant>,
}

/// Sends streamed parts to one bucket.
pub(super) struct PartStreamer {
    /// Touched once per part (megabytes apart): a plain lock.
    health: Mutex<PartHealth>,
    http: reqwest::Client,
    credentials: AwsCredentialProvider,
    region: String,
    /// `<endpoint>/<bucket>` (path style, as the store is configured): keys follow.
    bucket_endpoint: String,
    /// How long S3 may take to answer once the part's last byte is sent.
    answer_timeout: Duration,
}

impl PartStreamer {
    /// The streamer for the bucket `builder` is configured for (its settings, those from the
    /// environment included, are readable only on the builder), signing with `credentials`
    /// (the built store's). `None` where the configuration is one it does not handle (S3
    /// Express zonal endpoints, anonymous access, requester pays, customer-provided keys or a
    /// checksum algorithm, which every part would have to repeat): parts then go through
    /// `object_store` alone.
    pub(super) fn for_builder(
        builder: &AmazonS3Builder,
        credentials: AwsCredentialProvider,
        connect_timeout: Duration,
        answer_timeout: Duration,
    ) -> anyhow::Result<Option<PartStreamer>> {
        let setting = |key| builder.get_config_value(&key);
        let enabled = |key| setting(key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        // (The key's enum is not exported; its name is.)
        let customer_key = "aws_server_side_encryption"
            .parse::<AmazonS3ConfigKey>()
            .ok()
            .and_then(setting)
            .is_some_and(|v| v.eq_ignore_ascii_case("sse-c"));
        if customer_key
            // Parts of an upload created with a checksum algorithm must each carry theirs,
            // which needs the bytes before the request.
            || setting(AmazonS3ConfigKey::Checksum).is_some()
            || enabled(AmazonS3ConfigKey::S3Express)
            || enabled(AmazonS3ConfigKey::SkipSignature)
            || enabled(AmazonS3ConfigKey::RequestPayer)
        {
            return Ok(None);
        }
        let bucket = setting(AmazonS3ConfigKey::Bucket).context("S3 store without a bucket")?;
        let region = setting(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
        let bucket_endpoint = match setting(AmazonS3ConfigKey::Endpoint) {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the S3 part client")?;
        Ok(Some(PartStreamer {
            health: Mutex::default(),
            http,
            credentials,
            region,
            bucket_endpoint,
            answer_timeout,
        }))
    }

    /// Counts a streamed part: in, or `resent` from the caller's copy after its request
    /// failed.
    pub(super) fn count(&self, resent: bool) {
        let Ok(mut health) = self.health.lock() else {
            return;
        };
        if !resent {
            health.taken += 1;
            health.failed_in_a_row = 0;
            return;
        }
        health.resent += 1;
        health.failed_in_a_row += 1;
        if health.failed_in_a_row == PAUSE_AFTER_FAILURES {
            tracing::warn!(
                failed = health.failed_in_a_row,
                pause_secs = PAUSE.as_secs(),
                "S3 took none of the last streamed parts: parts go whole for a while"
            );
            health.paused_until = Some(tokio::time::Instant::now() + PAUSE);
        }
    }

    /// Whether parts may be streamed now (not during a pause after failures).
    pub(super) fn active(&self) -> bool {
        let Ok(mut health) = self.health.lock() else {
            return true;
        };
        match health.paused_until {
            Some(at) if tokio::time::Instant::now() < at => false,
            Some(_) => {
                // The pause is over: a new round of attempts.
                health.paused_until = None;
                health.failed_in_a_row = 0;
                true
            }
            None => true,
        }
    }

    /// Streamed parts S3 took as they came, and those sent again.
    pub(super) fn counts(&self) -> (u64, u64) {
        self.health
            .lock()
            .map(|health| (health.taken, health.resent))
            .unwrap_or_default()
    }

    /// Starts part `part_index` (0-based) of the multipart upload `upload_id` at `path`,
    /// `length` bytes long, to be fed with [`StreamingPart::feed`].
    pub(super) fn start(
        &self,
        path: &ObjectPath,
        upload_id: &str,
        part_index: usize,
        length: u64,
    ) -> StreamingPart {
        let key: Vec<String> = path
            .parts()
            .map(|part| utf8_percent_encode(part.as_ref(), KEY_SEGMENT).to_string())
            .collect();
        let mut url = format!("{}/{}", self.bucket_endpoint, key.join("/"));
        url.push_str("?partNumber=");
        url.push_str(&(part_index + 1).to_string());
        url.push_str("&uploadId=");
        url.push_str(&utf8_percent_encode(upload_id, KEY_SEGMENT).to_string());
        let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let body =
            reqwest::Body::wrap_stream(tokio_stream_of(receiver).map(Ok::<Bytes, Infallible>));
        let request = send_part(
            self.http.clone(),
            self.credentials.clone(),
            self.region.clone(),
            url,
            length,
            body,
        );
        StreamingPart {
            sender: Some(sender),
            task: tokio::spawn(request.in_current_span()),
            answer_timeout: self.answer_timeout,
        }
    }
}

/// The receiving end of the channel as a stream (tokio's channel is not one by itself).
fn tokio_stream_of(receiver: mpsc::Receiver<Bytes>) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|bytes| (bytes, receiver))
    })
}

/// The UploadPart request; its ETag.
async fn send_part(
    http: reqwest::Client,
    credentials: AwsCredentialProvider,
    region: String,
    url: String,
    length: u64,
    body: reqwest::Body,
) -> anyhow::Result<String> {
    let credential = credentials
        .get_credential()
        .await
        .context("S3 credentials")?;
    // Signed on a body-less copy: the signature covers the method, URL and headers only.
    let mut signed = http::Request::builder()
        .method(http::Method::PUT)
        .uri(&url)
        .header(http::header::CONTENT_LENGTH, length)
        .body(HttpRequestBody::from(Bytes::new()))
        .context("building an UploadPart request")?;
    AwsAuthorizer::new(&credential, "s3", &region)
        .with_sign_payload(false)
        .authorize(&mut signed, None);
    let response = http
        .put(&url)
        .headers(signed.headers().clone())
        .body(body)
        .send()
        .await
        .context("sending a streamed part")?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!(
            "S3 refused a streamed part ({status}): {}",
            text.chars().take(300).collect::<String>()
        );
    }
    response
        .headers()
        .get(http::header::ETAG)
        .and_then(|etag| etag.to_str().ok())
        .map(str::to_owned)
        .context("S3 answered a part without an ETag")
}

/// A part whose request is under way.
pub(super) struct StreamingPart {
    /// `None` once the last byte is fed.
    sender: Option<mpsc::Sender<Bytes>>,
    task: JoinHandle<anyhow::Result<String>>,
    answer_timeout: Duration,
}

impl StreamingPart {
    /// Passes bytes on to the part's request, unless that request has ended (it failed: the
    /// caller sends the part again from its own copy, and [`Self::finish`] says so).
    pub(super) async fn feed(&mut self, bytes: Bytes) {
        let Some(sender) = &self.sender else {
            return;
        };
        // A store that stops reading would hold the body, and with it the upload's request:
        // past the answer timeout the part is given up.
        if !matches!(
            tokio::time::timeout(self.answer_timeout, sender.send(bytes)).await,
            Ok(Ok(()))
        ) {
            self.sender = None;
            self.task.abort();
        }
    }

    /// The part's ETag, once its last byte was fed.
    pub(super) async fn finish(mut self) -> anyhow::Result<String> {
        self.sender = None;
        match tokio::time::timeout(self.answer_timeout, &mut self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(e).context("the streamed part's task"),
            Err(_) => anyhow::bail!("S3 did not answer a streamed part in time"),
        }
    }
}

impl Drop for StreamingPart {
    // A part given up (its PATCH ended early, or a bad chunk) must not go on in the background.
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::S3_MIN_PART_SIZE;
    use crate::store::blob::{etag_md5, BlobStore};
    use md5::{Digest, Md5};
    use object_store::multipart::PartId;

    #[tokio::test]
    async fn a_part_streams_into_s3_and_one_fed_short_fails() {
        let Some((s3, config)) = crate::store::blob::tests::test_s3() else {
            return;
        };
        // A prefix with characters a key segment must encode.
        let url = s3.url_with_prefix(&format!("t {}+(x)", crate::ids::object_id()));
        let store = BlobStore::open_s3(&url, &config.s3).expect("open");
        let multipart = store.multipart.clone().expect("an S3 store has multipart");
        let streamer = multipart
            .streamer
            .clone()
            .expect("s3s-fs takes streamed parts");
        let key = "v/aa/streamed";
        let path = multipart.path(key);
        let id = multipart
            .store
            .create_multipart(&path)
            .await
            .expect("create");
        let data: Vec<u8> = (0..S3_MIN_PART_SIZE as u32 + 12_345)
            .map(|i| (i % 249) as u8)
            .collect();

        // A body that ends before the length it announced is not taken for the part.
        let mut short = streamer.start(&path, &id, 0, data.len() as u64 + 1);
        short.feed(Bytes::from(data.clone())).await;
        assert!(short.finish().await.is_err(), "a short part is refused");

        let mut part = streamer.start(&path, &id, 0, data.len() as u64);
        for chunk in data.chunks(100_003) {
            part.feed(Bytes::copy_from_slice(chunk)).await;
        }
        let etag = part.finish().await.expect("the part is in");
        streamer.count(false);
        assert_eq!(streamer.counts(), (1, 0));
        let md5: [u8; 16] = Md5::digest(&data).into();
        assert_eq!(
            etag_md5(&etag),
            Some(md5),
            "the part's ETag is its bytes' MD5"
        );
        multipart
            .store
            .complete_multipart(&path, &id, vec![PartId { content_id: etag }])
            .await
            .expect("complete");
        let stored = store
            .read_all(key)
            .await
            .expect("read")
            .expect("the object");
        assert!(stored[..] == data[..], "the object is the bytes streamed");
    }

    fn bucket() -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_bucket_name("media")
            .with_region("eu-west-1")
            .with_access_key_id("k")
            .with_secret_access_key("s")
    }

    fn streamer(builder: AmazonS3Builder) -> Option<PartStreamer> {
        let credentials = bucket().build().expect("a store").credentials().clone();
        let timeout = Duration::from_secs(1);
        PartStreamer::for_builder(&builder, credentials, timeout, timeout).expect("settings")
    }

    #[test]
    fn failures_in_a_row_pause_streaming_and_a_part_taken_resets_the_run() {
        let s = streamer(bucket()).expect("a plain bucket streams");
        for resent in [true, true, false, true, true] {
            s.count(resent);
        }
        assert!(s.active(), "two in a row since the last part taken");
        s.count(true);
        assert!(!s.active(), "three in a row pause streaming");
        if let Ok(mut health) = s.health.lock() {
            health.paused_until = Some(tokio::time::Instant::now());
        }
        assert!(s.active(), "the pause is over");
        s.count(true);
        assert!(s.active(), "a new run of attempts");
        assert_eq!(s.counts(), (1, 6));
    }

    #[test]
    fn configurations_the_signer_does_not_cover_keep_whole_parts() {
        let base = bucket;
        let plain = streamer(base()).expect("a plain bucket streams");
        assert_eq!(
            plain.bucket_endpoint,
            "https://s3.eu-west-1.amazonaws.com/media"
        );
        let custom = streamer(base().with_endpoint("http://127.0.0.1:9000/")).expect("streams");
        assert_eq!(custom.bucket_endpoint, "http://127.0.0.1:9000/media");
        let sse = "aws_server_side_encryption"
            .parse::<AmazonS3ConfigKey>()
            .expect("a config key");
        for (key, value) in [
            (AmazonS3ConfigKey::Checksum, "sha256"),
            (AmazonS3ConfigKey::S3Express, "true"),
            (AmazonS3ConfigKey::SkipSignature, "true"),
            (AmazonS3ConfigKey::RequestPayer, "true"),
            (sse, "sse-c"),
        ] {
            let refused = streamer(base().with_config(key, value));
            assert!(refused.is_none(), "{key:?} = {value} still streams");
        }
    }

    #[test]
    fn key_segments_keep_only_unreserved_characters() {
        let encoded: String = utf8_percent_encode("a b+c/é~_.-", KEY_SEGMENT).to_string();
        assert_eq!(encoded, "a%20b%2Bc%2F%C3%A9~_.-");
    }
}
