//! The upload pipeline: one pass over the bytes.
//!
//! ```text
//! request ─► intake (+ early auth) ─► auth ─► contract ─► media ─► commit ─► response
//! ```
//!
//! The order of checks is spec §2.5's. The blob is written while the body streams in; a
//! [`sink::BlobGuard`] deletes it on every path that does not end in a catalog commit.

pub mod auth;
mod base64_stream;
pub mod fetch;
pub mod intake;
pub mod multipart_guard;
pub mod response;
pub mod sink;
pub mod unproven;
pub mod urlencoded;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::custom_fields::LiveFields;
use crate::error::AppError;
use crate::http::RequestInfo;
use crate::ids;
use crate::media::details::RenderContext;
use crate::state::AppState;
use crate::store::blob::blob_key;
use crate::store::{CommitOutcome, CommitOutcomeUnknown, MediaInfo, NewUpload, Outbox};
use crate::webhooks::outbox::{
    ExtensionJobs, POST_TRANSFORM_ERROR, POST_TRANSFORM_SUCCESS, PRE_TRANSFORM_ERROR,
};
use auth::{ApiVersion, Authenticator};
use intake::{FilePart, Received};
use tracing::Instrument;

pub async fn upload_v1(
    State(state): State<AppState>,
    request: RequestInfo,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, ApiVersion::V1, request, headers, body).await
}

pub async fn upload_v2(
    State(state): State<AppState>,
    request: RequestInfo,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, ApiVersion::V2, request, headers, body).await
}

async fn handle(
    state: AppState,
    api: ApiVersion,
    request: RequestInfo,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let timer = state.metrics.upload(match api {
        ApiVersion::V1 => "v1",
        ApiVersion::V2 => "v2",
    });
    let mut auth = Authenticator::new(&state, api, &headers);
    let body = crate::http::linger::SharedBody::new(body);
    let result = run(&state, request, &headers, body.body(), &mut auth).await;
    let limits = &state.config.limits;
    body.discard_rest(limits.hard_cap(), limits.idle_body_timeout())
        .await;
    timer.finish(
        auth.mode_label(),
        result.as_ref().map(|r| r.size).map_err(AppError::code),
    );
    match result {
        Ok(response) => Json(response).into_response(),
        Err(err) => {
            // A request refused for the budget of unproven bytes was never authenticated (no
            // token burned): its `Retry-After` is meant to be followed.
            let unproven = matches!(err, AppError::UnauthenticatedUploadsBusy);
            let mut response = err.into_response();
            // A retried client-side upload would reuse its burned token (spec §2.7).
            if (auth.token_consumed || auth.client_token_mode())
                && response.status().is_server_error()
                && !unproven
            {
                response
                    .headers_mut()
                    .insert("x-should-retry", HeaderValue::from_static("false"));
            }
            response
        }
    }
}

enum BodyKind {
    Multipart(String),
    UrlEncoded,
}

fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "multipart/form-data" => multer::parse_boundary(content_type)
            .ok()
            .map(BodyKind::Multipart),
        "application/x-www-form-urlencoded" => Some(BodyKind::UrlEncoded),
        _ => None,
    }
}

async fn run(
    state: &AppState,
    request: RequestInfo,
    headers: &HeaderMap,
    body: Body,
    auth: &mut Authenticator<'_>,
) -> Result<response::UploadResponse, AppError> {
    // Before a byte of the body: a place among the uploads served at once, and the client
    // address's rate.
    let _slot = state.fairness.upload_slot()?;
    if let Some(ip) = request.client_ip {
        crate::fairness::rate_limit(state, crate::fairness::Scope::Address(ip)).await?;
    }
    // T2: an unsupported or absent body has no file to speak of.
    let kind = body_kind(headers).ok_or(AppError::MissingFile)?;
    // The version id is allocated before the first byte so the blob is written once, under
    // its final name.
    let version_id = ids::object_id();
    let key = blob_key(&version_id);
    let limits = &state.config.limits;
    let target = intake::Target {
        blobs: &state.blobs,
        key: &key,
        limits,
    };
    // File bytes that arrive before the credentials are proven count against a server-wide
    // budget until they are (or until this request ends, whichever way).
    let unproven = state.unproven_files.hold();
    let Received { fields, file } = match kind {
        BodyKind::Multipart(boundary) => {
            intake::read_multipart(body, boundary, target, auth, &unproven).await?
        }
        BodyKind::UrlEncoded => intake::read_urlencoded(body, target, auth, &unproven).await?,
    };

    let principal = auth.after_body(&fields).await?;
    unproven.release();
    store_received(state, request, principal, &fields, file, version_id).await
}

/// Everything after the body: the parameters (P), the file's facts and limits (F), the
/// transformations, custom metadata and checks (E), the commit and the response. A multipart
/// upload and the last byte of a resumable one both end here.
pub(crate) async fn store_received(
    state: &AppState,
    request: RequestInfo,
    principal: auth::Authenticated,
    fields: &auth::Fields,
    file: FilePart,
    mut version_id: String,
) -> Result<response::UploadResponse, AppError> {
    let limits = &state.config.limits;
    // P1, then P2–P7, then F1.
    let file = match file {
        FilePart::Absent => return Err(AppError::MissingFile),
        FilePart::Received(f) if f.size == 0 => return Err(AppError::MissingFile),
        other => other,
    };
    // The account's live custom metadata fields: they type `request.customMetadata.<name>` in
    // `checks` (P7) and validate `customMetadata` (E2). Read on every upload (one indexed
    // query), so a field created or changed on another instance applies at once.
    let render = Arc::new(RenderContext {
        url_endpoint: state.url_endpoint(&principal.account.url_id),
        live_fields: LiveFields::new(
            &state
                .catalog
                .custom_fields(&principal.account.id, false)
                .await
                .map_err(AppError::internal)?,
        ),
    });
    let custom_fields = &render.live_fields;
    let params = folio_contract::parse_upload_params_with(fields, custom_fields)?;
    let mut file = match file {
        FilePart::Received(f) => f,
        FilePart::Unusable(problem) => return Err(problem),
        FilePart::Absent => return Err(AppError::MissingFile),
        // F1 for a URL: fetched only now that the request is authenticated and valid. A fresh
        // version id (and blob key): intake may have opened, and is now deleting, the first.
        FilePart::Url(url) => {
            version_id = ids::object_id();
            let key = blob_key(&version_id);
            let fetched = state
                .fetcher
                .fetch(&url, &state.blobs, &key, limits, &params.file_name)
                .await?;
            Box::new(fetched)
        }
    };

    // F2: the media facts from the bytes and the final name, whatever the order of the parts.
    file.describe(&params.file_name);
    // F3: the limit of the detected class (intake already stopped anything above the larger).
    let facts = &file.facts;
    let limit = if facts.is_video() {
        limits.max_video_size
    } else {
        limits.max_file_size
    };
    if file.size > limit {
        return Err(AppError::FileTooLarge);
    }

    // F4: an image is one only if its pixels decode (a pre-transformation decodes it anyway,
    // and refuses it if they do not).
    let pre_transformed = params
        .transformation
        .as_ref()
        .is_some_and(|t| t.pre.is_some());
    if !pre_transformed {
        verify_image(state, &mut file).await?;
    }
    // E1, then E4 (image pre-transformation: the stored bytes are its result).
    let plan = match &params.transformation {
        Some(t) => transformation_plan(t, &file.facts, &state.config.delivery.render_limits())?,
        None => TransformationPlan::default(),
    };
    // E2 (spec §9.3): the request's values, then the defaults of fields still without one.
    // Without the parameter, what the new version holds is decided in the commit (a new file:
    // nothing; an overwrite: nothing or, with overwriteCustomMetadata=false, the previous
    // version's values), and the defaults are applied there too, inside the transaction
    // (`NewUpload::custom_metadata_defaults`), so the merge never reads a stale version.
    let custom_metadata = match &params.custom_metadata {
        Some(request) => {
            let mut values = custom_fields
                .validate(request)
                .map_err(AppError::InvalidCustomMetadata)?;
            custom_fields
                .complete(&mut values)
                .map_err(AppError::InvalidCustomMetadata)?;
            Some(values)
        }
        None => None,
    };
    // The upload's events (and its extension jobs) go to the outbox with its commit.
    let mut outbox = Outbox::new(&principal.account.id, Arc::clone(&render), Some(request));
    if let Some(pre) = plan.pre {
        version_id = ids::object_id();
        if let Err(e) = pre_transform(state, &mut file, &version_id, pre, &params.file_name).await {
            let reason = e.status_and_message().1;
            let data = serde_json::json!({"transformation": {"error": {"reason": reason}}});
            crate::webhooks::report(state, outbox.event(PRE_TRANSFORM_ERROR, data)).await;
            return Err(e);
        }
        outbox = outbox.pre_transformed();
        // The stored file obeys the limit too (a PNG of a large JPEG can outgrow it).
        if file.size > limits.max_file_size {
            return Err(AppError::FileTooLarge);
        }
    }

    let media = media_info(&file.facts, &file.head, file.size);

    // E5: the final name (with its suffix), which `checks` sees as `request.fileName`.
    let proposed_name = params
        .use_unique_file_name
        .then(|| params.stored_name(&mut rand::rng()));
    // E6
    if let Some(checks) = &params.checks {
        let name = proposed_name.as_deref().unwrap_or(&params.file_name);
        // Spec §7.3: the request's values after schema defaults.
        let values = custom_metadata
            .clone()
            .unwrap_or_else(|| custom_fields.defaults());
        checks
            .verify(&check_context(
                &params,
                name,
                &values,
                &file.facts,
                file.size,
            ))
            .map_err(|_| AppError::ChecksFailed)?;
    }
    // What the account may store, with the bytes as stored (after any pre-transformation).
    crate::fairness::check_quota(state, &principal.account.id, file.size).await?;

    // Spec §3.9: extensions with a runner become jobs, written with the commit.
    let (extension_status, pending) = state.extensions.plan(params.extensions.clone());
    if !pending.is_empty() {
        outbox = outbox.with_extensions(ExtensionJobs {
            extensions: pending,
            webhook_url: params.webhook_url.clone(),
            key_id: principal.key.public_key.clone(),
        });
    }
    let upload = NewUpload {
        account_id: principal.account.id.clone(),
        version_id,
        blob_key: file.guard.key().to_owned(),
        folder_path: params.folder.path(),
        folder_ancestors: params.folder.ancestors().map(|f| f.path()).collect(),
        base_name: params.file_name.clone(),
        proposed_name,
        use_unique_file_name: params.use_unique_file_name,
        overwrite_file: params.overwrite_file,
        overwrite_tags: params.overwrite_tags,
        overwrite_ai_tags: params.overwrite_ai_tags,
        overwrite_custom_metadata: params.overwrite_custom_metadata,
        tags: params.tags.clone(),
        custom_metadata,
        custom_metadata_defaults: custom_fields.defaults(),
        custom_coordinates: params.custom_coordinates.clone(),
        is_private_file: params.is_private_file,
        is_published: params.is_published,
        description: params.description.clone(),
        size: file.size,
        media,
        max_versions: limits.max_versions_per_file,
        outbox: outbox.clone(),
    };
    // The commit and the fate of the blob are decided in a task of their own: if the client
    // goes away while the commit is in flight, the handler is dropped, and a blob deleted by
    // its guard after the row was written would leave the catalog pointing at nothing.
    let catalog = state.catalog.clone();
    let guard = file.guard;
    let outcome = tokio::spawn(
        async move {
            let outcome = catalog.commit_upload(&upload).await;
            let keep = match &outcome {
                Ok(CommitOutcome::Committed(_)) => true,
                // The row may exist: the blob stays, and the sweeper removes it later if not.
                Err(e) => e.downcast_ref::<CommitOutcomeUnknown>().is_some(),
                Ok(_) => false,
            };
            if keep {
                guard.disarm();
            } // else the guard deletes the blob: certainly not committed

            outcome
        }
        .in_current_span(),
    )
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    let stored = match outcome {
        CommitOutcome::Committed(mut stored) => {
            // Spec §9.2: values of deleted fields stay stored but are not shown.
            stored
                .custom_metadata
                .retain(|key, _| custom_fields.contains(key));
            stored
        }
        CommitOutcome::PathTaken => return Err(AppError::FileExists),
        CommitOutcome::TooManyVersions => return Err(AppError::TooManyVersions),
    };
    state.webhook_bell.ring();
    if !plan.post.is_empty() {
        // Post-transformations are derived renditions, made after the response (spec §3.8).
        let job = post_transforms(
            state.clone(),
            (*stored).clone(),
            plan.post,
            outbox,
            render.url_endpoint.clone(),
        );
        tokio::spawn(job.in_current_span());
    }
    tracing::info!(
        upload.file_id = %stored.file_id,
        upload.version = stored.version_number,
        upload.size_bytes = stored.size,
        upload.mode = ?principal.mode,
        "stored"
    );
    let mut response =
        response::upload_response(&stored, &render.url_endpoint, params.response_fields);
    // Spec §3.9: only a non-empty `extensions` array yields `extensionStatus`.
    if !params.extensions.is_empty() {
        response.extension_status = Some(extension_status);
    }
    Ok(response)
}

/// The transformations an upload will perform, once step E1 has accepted them.
#[derive(Default)]
struct TransformationPlan {
    pre: Option<folio_media::Transformation>,
    post: Vec<folio_media::Transformation>,
}

/// Step E1 (spec §3.8): the type rules, then what this server performs. Only raster images are
/// transformed; video transformations, `gif-to-video`, `abs` and vector/HEIF images are refused
/// with a message that names them, and strings outside our subset with the "transformation field
/// is invalid" message (the §3.8 rule for a server without that engine).
fn transformation_plan(
    t: &folio_contract::TransformationParam,
    facts: &folio_media::MediaFacts,
    limits: &folio_media::RenderLimits,
) -> Result<TransformationPlan, AppError> {
    use folio_contract::PostKind;
    let (image, video) = (facts.is_image(), facts.is_video());
    if !image && !video {
        return Err(AppError::TransformationNotForType);
    }
    let gif = facts.mime == "image/gif";
    for post in &t.post {
        let fits = match post.kind {
            PostKind::Transformation => true,
            PostKind::GifToVideo => gif,
            PostKind::Thumbnail | PostKind::Abs => video,
        };
        if !fits {
            return Err(AppError::PostTransformationIncompatible);
        }
    }
    let not_implemented = |what: &str| AppError::TransformationNotImplemented(what.to_owned());
    if video {
        if t.pre.is_some() {
            return Err(not_implemented("video pre"));
        }
        if let Some(post) = t.post.first() {
            return Err(match post.kind {
                PostKind::Transformation => not_implemented("video post"),
                PostKind::Thumbnail => not_implemented("video thumbnail"),
                other => not_implemented(other.as_str()),
            });
        }
    }
    if let Some(post) = t.post.iter().find(|p| p.kind == PostKind::GifToVideo) {
        return Err(not_implemented(post.kind.as_str()));
    }
    if !crate::delivery::renderable(&facts.mime) {
        let format = facts.format.as_deref().unwrap_or("this");
        return Err(not_implemented(&format!("{format} image")));
    }
    // Outside the subset, or certainly beyond the render budget for a picture of this size
    // (judged from its header facts; the render itself checks again from the real header).
    let parse = |text: &str| {
        let t = folio_media::Transformation::parse(text)
            .map_err(|_| AppError::Param(folio_contract::ParamError::TransformationInvalid))?;
        if let (Some(w), Some(h)) = (facts.width, facts.height) {
            let known = folio_media::SourceImage::lower_bound(w, h, facts.orientation);
            folio_media::estimate_render(&known, &t, limits)
                .map_err(|_| AppError::Param(folio_contract::ParamError::TransformationInvalid))?;
        }
        Ok::<_, AppError>(t)
    };
    Ok(TransformationPlan {
        pre: t.pre.as_deref().map(parse).transpose()?,
        post: t
            .post
            .iter()
            .filter_map(|p| p.value.as_deref())
            .map(parse)
            .collect::<Result<_, _>>()?,
    })
}

/// Renders an upload's post-transformations (after its response) and reports each outcome as
/// an `upload.post-transform.*` event. A failure is logged too: delivery renders on demand
/// anyway.
async fn post_transforms(
    state: AppState,
    version: crate::store::StoredVersion,
    post: Vec<folio_media::Transformation>,
    outbox: Outbox,
    url_endpoint: String,
) {
    let encoded = folio_contract::url_path_encode(&version.file_path);
    for t in post {
        let failure = match crate::delivery::rendition(&state, &version, &t).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(format!("the rendition could not be made: {e}")),
            Err(e) => Some(e.to_string()),
        };
        let url = format!("{url_endpoint}/tr:{t}{encoded}");
        let event = match failure {
            None => outbox.event(
                POST_TRANSFORM_SUCCESS,
                serde_json::json!({"fileId": version.file_id, "url": url, "name": version.name}),
            ),
            Some(reason) => {
                tracing::warn!(transformation = %t, %reason, "post-transformation failed");
                let error = serde_json::json!({"error": {"reason": reason}});
                outbox.event(
                    POST_TRANSFORM_ERROR,
                    serde_json::json!({"fileId": version.file_id, "url": url, "transformation": error}),
                )
            }
        };
        crate::webhooks::report(&state, event).await;
    }
}

/// Step F4: a file whose header claims a raster image is stored as one only if that can be
/// true. Its pixels are decoded (on the render pool, within the render budget, the decoded
/// picture thrown away); beyond the budget, its size must at least be able to hold the pixels
/// the header claims. Otherwise it is a `non-image` without dimensions (decided over refusing
/// it: the bytes are kept as sent, and a picture our decoder does not know is not lost), and
/// its thumbnails and transformations say the image cannot be decoded.
async fn verify_image(state: &AppState, file: &mut sink::ReceivedFile) -> Result<(), AppError> {
    let facts = &file.facts;
    if !facts.is_image() || !crate::delivery::renderable(&facts.mime) {
        return Ok(());
    }
    let floor = facts
        .width
        .zip(facts.height)
        .and_then(|(w, h)| folio_media::smallest_file(&facts.mime, w, h));
    let problem = match floor {
        Some(floor) if file.size < floor => Some(format!(
            "{} bytes cannot hold the {}x{} pixels the header claims",
            file.size,
            facts.width.unwrap_or_default(),
            facts.height.unwrap_or_default()
        )),
        _ => {
            let source = crate::delivery::RenderSource {
                blob_key: file.guard.key(),
                size: file.size,
                width: facts.width,
                height: facts.height,
                orientation: facts.orientation,
            };
            let job = crate::delivery::RenderJob::Verify;
            match crate::delivery::render_original(state, source, job).await? {
                Err(folio_media::MediaError::Decode(e)) => Some(e),
                // Decoded; or beyond what this server decodes, where the header stands.
                Ok(_) | Err(_) => None,
            }
        }
    };
    if let Some(problem) = problem {
        tracing::info!(mime = %facts.mime, %problem, "stored as non-image: its pixels do not decode");
        file.facts.not_an_image();
    }
    Ok(())
}

/// Step E4 for images: renders `pre` from the received blob and makes the result the file, under
/// a new blob key (of `version_id`). The original's guard is dropped, which deletes it; the new
/// blob has its own guard, so a later failure leaves nothing behind either.
async fn pre_transform(
    state: &AppState,
    file: &mut sink::ReceivedFile,
    version_id: &str,
    pre: folio_media::Transformation,
    file_name: &str,
) -> Result<(), AppError> {
    let source = crate::delivery::RenderSource {
        blob_key: file.guard.key(),
        size: file.size,
        width: file.facts.width,
        height: file.facts.height,
        orientation: file.facts.orientation,
    };
    let job = crate::delivery::RenderJob::Transformation(pre);
    let (bytes, _mime) = match crate::delivery::render_original(state, source, job).await? {
        Ok(r) => r,
        Err(folio_media::MediaError::Encode(e)) => {
            return Err(AppError::internal(anyhow::anyhow!("encoding: {e}")))
        }
        Err(folio_media::MediaError::Decode(_)) => {
            return Err(AppError::InvalidFile("undecodable image"))
        }
        // Beyond the decode limits or the render budget: the requested transformation cannot
        // be made.
        Err(_) => {
            return Err(AppError::Param(
                folio_contract::ParamError::TransformationInvalid,
            ))
        }
    };
    let key = blob_key(version_id);
    let guard = sink::BlobGuard::new(&state.blobs, &key);
    state
        .blobs
        .put(&key, bytes.clone())
        .await
        .map_err(AppError::internal)?;
    // Replaces (and so drops, deleting) the original's guard.
    file.guard = guard;
    file.size = bytes.len() as u64;
    file.head = bytes[..bytes.len().min(folio_media::SNIFF_LEN)].to_vec();
    file.facts = folio_media::probe(&file.head, file.size, file_name);
    Ok(())
}

/// What `checks` sees of a request whose file has been received in full.
fn check_context<'a>(
    params: &'a folio_contract::UploadParams,
    stored_name: &'a str,
    custom_metadata: &'a serde_json::Map<String, serde_json::Value>,
    facts: &'a folio_media::MediaFacts,
    size: u64,
) -> folio_contract::CheckContext<'a> {
    let mut ctx = folio_contract::CheckContext::for_upload(params, stored_name, custom_metadata);
    ctx.file_size = folio_contract::SizeKnowledge::Exactly(size);
    ctx.file_mime = Some(&facts.mime);
    ctx.width = facts.width.map(u64::from);
    ctx.height = facts.height.map(u64::from);
    if let Some(video) = &facts.video {
        ctx.duration = video.duration_secs;
        ctx.video_codec = video.video_codec.as_deref();
        ctx.audio_codec = video.audio_codec.as_deref();
        ctx.bit_rate = video.bit_rate;
    }
    ctx
}

fn media_info(facts: &folio_media::MediaFacts, head: &[u8], size: u64) -> MediaInfo {
    let video = facts.video.as_ref();
    MediaInfo {
        mime: facts.mime.clone(),
        file_type: facts.file_type.as_str().to_owned(),
        format: facts.format.clone(),
        width: facts.width,
        height: facts.height,
        orientation: facts.orientation,
        has_alpha: facts.has_alpha,
        duration: video
            .and_then(|v| v.duration_secs)
            .map(|d| d.round() as u64),
        bit_rate: video.and_then(|v| v.bit_rate),
        video_codec: video.and_then(|v| v.video_codec.clone()),
        audio_codec: video.and_then(|v| v.audio_codec.clone()),
        embedded: folio_media::embedded_metadata(head),
        legacy: folio_media::legacy_metadata(facts, head, size),
    }
}
