//! `GET /v1/files` — list and search (spec §8.9, media-api §2–§3).
//!
//! [`parse_list_params`] turns the raw query string into a typed [`ListQuery`] once (a pure
//! function); the `searchQuery` text is parsed after authentication, when the account's custom
//! metadata fields are known. The catalog runs the whole query ([`crate::store::listing`]).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use folio_contract::search::parse_search;
use folio_contract::Folder;

use super::details::{file_details, folder_details, Listed, RenderContext};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::listing::{FileTypeFilter, ListQuery, ListType, Sort, SortKey};
use crate::store::ListedItem;
use crate::upload::auth::authenticate_basic;

/// The list parameters, validated; `search` is the raw `searchQuery` text, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub query: ListQuery,
    pub search: Option<String>,
}

/// The 12 `sort` values (spec §8.9).
const SORTS: [(&str, SortKey, bool); 12] = [
    ("ASC_NAME", SortKey::Name, false),
    ("DESC_NAME", SortKey::Name, true),
    ("ASC_CREATED", SortKey::Created, false),
    ("DESC_CREATED", SortKey::Created, true),
    ("ASC_UPDATED", SortKey::Updated, false),
    ("DESC_UPDATED", SortKey::Updated, true),
    ("ASC_HEIGHT", SortKey::Height, false),
    ("DESC_HEIGHT", SortKey::Height, true),
    ("ASC_WIDTH", SortKey::Width, false),
    ("DESC_WIDTH", SortKey::Width, true),
    ("ASC_SIZE", SortKey::Size, false),
    ("DESC_SIZE", SortKey::Size, true),
];

pub const MAX_LIMIT: i128 = 1000;

/// An integer parameter: `Some(n)` for `-?[0-9]+` (clamped to the i128 range, which is
/// enough to tell the bounds apart), `None` otherwise.
fn integer(text: &str) -> Option<i128> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i128>().unwrap_or(if text.starts_with('-') {
        i128::MIN
    } else {
        i128::MAX
    }))
}

/// Parses the query string of `GET /v1/files`. `+` decodes as a space (old Python clients
/// form-encode); an empty value counts as absent; the first of repeated parameters wins;
/// unknown parameters are ignored. Errors are the exact 400s of spec §8.9.
pub fn parse_list_params(raw: &str) -> Result<ListParams, AppError> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if !value.is_empty() && !seen.iter().any(|(k, _)| *k == key) {
            seen.push((key.into_owned(), value.into_owned()));
        }
    }
    let get = |name: &str| {
        seen.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut query = ListQuery::default();

    if let Some(value) = get("type") {
        query.list_type = match value {
            "file" => ListType::File,
            "file-version" => ListType::FileVersion,
            "folder" => ListType::Folder,
            "all" => ListType::All,
            _ => return Err(AppError::InvalidListType),
        };
    }
    if let Some(value) = get("sort") {
        let (_, key, descending) = SORTS
            .iter()
            .find(|(name, _, _)| *name == value)
            .ok_or(AppError::InvalidSort)?;
        query.sort = Sort {
            key: *key,
            descending: *descending,
        };
    }
    if let Some(value) = get("path") {
        let folder = Folder::parse(value).map_err(|_| AppError::InvalidField("path".into()))?;
        query.path = Some(folder.path());
    }
    if let Some(value) = get("fileType") {
        query.file_type = match value {
            "all" => FileTypeFilter::All,
            "image" => FileTypeFilter::Image,
            "non-image" => FileTypeFilter::NonImage,
            _ => return Err(AppError::InvalidField("fileType".into())),
        };
    }
    if let Some(value) = get("skip") {
        let n = integer(value.trim()).ok_or(AppError::InvalidField("skip".into()))?;
        if n < 0 {
            return Err(AppError::SkipBelowZero(value.trim().to_owned()));
        }
        query.skip = u64::try_from(n).unwrap_or(u64::MAX);
    }
    if let Some(value) = get("limit") {
        let n = integer(value.trim()).ok_or(AppError::InvalidField("limit".into()))?;
        if n < 1 {
            return Err(AppError::LimitBelowMinimum(value.trim().to_owned()));
        }
        if n > MAX_LIMIT {
            return Err(AppError::LimitAboveMaximum(value.trim().to_owned()));
        }
        query.limit = u32::try_from(n).unwrap_or(1000);
    }
    if let Some(value) = get("tags") {
        // Python 4.x joins with ", ".
        let tags: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if !tags.is_empty() {
            query.tags = Some(tags);
        }
    }
    if let Some(value) = get("name") {
        query.name = Some(value.to_owned());
    }
    if let Some(value) = get("includeFolder") {
        query.include_folder = if value.eq_ignore_ascii_case("true") {
            true
        } else if value.eq_ignore_ascii_case("false") {
            false
        } else {
            return Err(AppError::InvalidField("includeFolder".into()));
        };
    }
    Ok(ListParams {
        query,
        search: get("searchQuery").map(str::to_owned),
    })
}

/// `GET /v1/files` and `GET /v1/files/`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    match list_inner(&state, &headers, raw.as_deref().unwrap_or("")).await {
        Ok(items) => Json(items).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_inner(
    state: &AppState,
    headers: &HeaderMap,
    raw: &str,
) -> Result<Vec<Listed>, AppError> {
    let key = authenticate_basic(state, headers).await?;
    let account = &key.account;
    let ListParams { mut query, search } = parse_list_params(raw)?;
    // The live custom fields type `customMetadata.*` conditions and filter what is shown.
    let ctx = RenderContext::load(state, account).await?;
    if let Some(text) = search {
        let now_ms = state.clock.now_secs().saturating_mul(1000);
        // A pinned test clock has seconds only; the system clock is read to the millisecond.
        let now_ms = match state.clock {
            crate::state::Clock::System => crate::ids::now_millis(),
            crate::state::Clock::Fixed(_) => now_ms,
        };
        let parsed = parse_search(&text, &ctx.live_fields, now_ms)
            .map_err(|e| AppError::InvalidSearchQuery(e.reason().to_owned()))?;
        query.search = Some(parsed);
    }
    let items = state
        .catalog
        .list_files(&account.id, &query)
        .await
        .map_err(AppError::internal)?;
    Ok(items
        .iter()
        .map(|item| match item {
            ListedItem::File(version) => Listed::File(Box::new(file_details(version, &ctx))),
            ListedItem::Folder(folder) => Listed::Folder(folder_details(folder)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> ListParams {
        match parse_list_params(raw) {
            Ok(p) => p,
            Err(e) => panic!("{raw}: {e:?}"),
        }
    }

    fn message(raw: &str) -> String {
        match parse_list_params(raw) {
            Ok(p) => panic!("{raw} parsed: {p:?}"),
            Err(e) => {
                let (status, message) = e.status_and_message();
                assert_eq!(status.as_u16(), 400);
                message
            }
        }
    }

    #[test]
    fn defaults() {
        let p = ok("");
        assert_eq!(p.query, ListQuery::default());
        assert_eq!(p.search, None);
        assert_eq!(p.query.limit, 1000);
        assert_eq!(
            p.query.sort,
            Sort {
                key: SortKey::Created,
                descending: false
            }
        );
    }

    #[test]
    fn every_parameter() {
        let p = ok(
            "type=all&sort=DESC_SIZE&path=a//b&fileType=non-image&limit=5&skip=10\
                    &tags=a,+b,%20c,,&name=x.jpg&includeFolder=TRUE&searchQuery=name+%3D+%22a+b%22",
        );
        assert_eq!(p.query.list_type, ListType::All);
        assert_eq!(
            p.query.sort,
            Sort {
                key: SortKey::Size,
                descending: true
            }
        );
        assert_eq!(p.query.path.as_deref(), Some("/a/b/"));
        assert_eq!(p.query.file_type, FileTypeFilter::NonImage);
        assert_eq!((p.query.limit, p.query.skip), (5, 10));
        assert_eq!(p.query.tags, Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(p.query.name.as_deref(), Some("x.jpg"));
        assert!(p.query.include_folder);
        assert_eq!(p.search.as_deref(), Some("name = \"a b\""));
        for (value, list_type) in [
            ("file", ListType::File),
            ("file-version", ListType::FileVersion),
            ("folder", ListType::Folder),
        ] {
            assert_eq!(ok(&format!("type={value}")).query.list_type, list_type);
        }
        for (name, key, descending) in SORTS {
            assert_eq!(
                ok(&format!("sort={name}")).query.sort,
                Sort { key, descending }
            );
        }
        // Empty values are absent; the first of a repeated parameter wins.
        assert_eq!(ok("limit=&type=").query, ListQuery::default());
        assert_eq!(ok("limit=3&limit=4").query.limit, 3);
        assert_eq!(ok("limit=1000").query.limit, 1000);
        assert_eq!(ok("limit=1").query.limit, 1);
        assert_eq!(ok("skip=0").query.skip, 0);
        assert_eq!(ok("path=/").query.path.as_deref(), Some("/"));
    }

    #[test]
    fn exact_messages() {
        assert_eq!(
            message("skip=-1"),
            "The value of skip parameter should be greater than or equal to 0. Value sent is -1."
        );
        assert_eq!(
            message("limit=0"),
            "Minimum value of limit parameter is 1. Value sent is 0."
        );
        assert_eq!(
            message("limit=-5"),
            "Minimum value of limit parameter is 1. Value sent is -5."
        );
        assert_eq!(
            message("limit=1001"),
            "Maximum value of limit parameter is 1000. Value sent is 1001."
        );
        assert_eq!(
            message("sort=ASC_COLOR"),
            "Your request contains invalid value for sort parameters."
        );
        assert_eq!(
            message("sort=asc_name"),
            "Your request contains invalid value for sort parameters."
        );
        assert_eq!(message("type=image"), "Your request contains invalid value for type parameter. Please provide one of the following: file, file-version, folder, all.");
        assert_eq!(
            message("limit=ten"),
            "Your request contains invalid limit parameter."
        );
        assert_eq!(
            message("skip=1.5"),
            "Your request contains invalid skip parameter."
        );
        assert_eq!(
            message("fileType=video"),
            "Your request contains invalid fileType parameter."
        );
        assert_eq!(
            message("includeFolder=yes"),
            "Your request contains invalid includeFolder parameter."
        );
        assert!(
            message("limit=99999999999999999999999999999999999999999").starts_with("Maximum value")
        );
    }
}
