//! The custom metadata fields API (spec §9.2): `/v1/customMetadataFields`, authenticated with
//! HTTP Basic and the private key only (spec §8).

pub mod schema;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use folio_contract::CustomFieldType;
use serde_json::{Map, Value};

use crate::error::{AppError, FieldErrors};
use crate::ids;
use crate::state::AppState;
use crate::store::{CustomField, FieldWrite, KeyWithAccount};
use crate::upload::auth::{authenticate_basic, Principal};
pub use schema::{FieldSchema, LiveFields};

/// The field object of spec §9.1.
fn field_json(field: &CustomField) -> Value {
    let mut obj = Map::new();
    obj.insert("id".to_owned(), Value::from(field.id.as_str()));
    obj.insert("name".to_owned(), Value::from(field.name.as_str()));
    obj.insert("label".to_owned(), Value::from(field.label.as_str()));
    if let Some(description) = &field.description {
        obj.insert("description".to_owned(), Value::from(description.as_str()));
    }
    obj.insert("schema".to_owned(), field.schema.clone());
    Value::Object(obj)
}

fn body_object(
    body: &[u8],
    on_error: fn(FieldErrors) -> AppError,
) -> Result<Map<String, Value>, AppError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => Ok(obj),
        _ => Err(on_error(FieldErrors::from([(
            "body".to_owned(),
            "should be a JSON object".to_owned(),
        )]))),
    }
}

/// A `name`/`label`: a non-empty string.
fn text(obj: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errors.insert(key.to_owned(), "is required".to_owned());
            None
        }
        Some(_) => {
            errors.insert(key.to_owned(), "should be a non-empty string".to_owned());
            None
        }
    }
}

fn check_id(id: &str) -> Result<(), AppError> {
    if id.is_empty() {
        Err(AppError::MissingIdParam)
    } else if ids::is_object_id(id) {
        Ok(())
    } else {
        Err(AppError::InvalidIdParam)
    }
}

/// `POST /v1/customMetadataFields`
pub async fn create(
    State(state): State<AppState>,
    Principal(principal): Principal,
    body: Bytes,
) -> Response {
    match create_inner(&state, &principal, &body).await {
        Ok(field) => (StatusCode::CREATED, Json(field_json(&field))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn create_inner(
    state: &AppState,
    principal: &KeyWithAccount,
    body: &[u8],
) -> Result<CustomField, AppError> {
    let obj = body_object(body, AppError::InvalidFieldObject)?;
    let mut errors = FieldErrors::new();
    let name = text(&obj, "name", &mut errors);
    let label = text(&obj, "label", &mut errors);
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.insert(
                "description".to_owned(),
                "should be of type string".to_owned(),
            );
            None
        }
    };
    let schema = match obj.get("schema") {
        None | Some(Value::Null) => {
            errors.insert("schema".to_owned(), "is required".to_owned());
            None
        }
        Some(raw) => match FieldSchema::parse(raw, None) {
            Ok(schema) => Some(schema),
            Err(problems) => {
                errors.extend(problems);
                None
            }
        },
    };
    let (Some(name), Some(label), Some(schema), true) = (name, label, schema, errors.is_empty())
    else {
        return Err(AppError::InvalidFieldObject(errors));
    };
    let field = CustomField {
        id: ids::object_id(),
        account_id: principal.account.id.clone(),
        name,
        label,
        description,
        schema: schema.to_json(),
        deleted: false,
        created_at_ms: ids::now_millis(),
    };
    match state
        .catalog
        .create_custom_field(&field)
        .await
        .map_err(AppError::internal)?
    {
        FieldWrite::Done(field) => Ok(field),
        FieldWrite::NameTaken => Err(AppError::FieldNameExists),
        FieldWrite::LabelTaken => Err(AppError::FieldLabelExists),
        FieldWrite::NotFound | FieldWrite::Deleted => Err(AppError::internal(anyhow::anyhow!(
            "unexpected outcome of a field insert"
        ))),
    }
}

/// `GET /v1/customMetadataFields?includeDeleted=true|false`
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result = async {
        let principal = authenticate_basic(&state, &headers).await?;
        // Anything but `true` (any case) is the default, `false` (our choice).
        let include_deleted = query
            .get("includeDeleted")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let fields = state
            .catalog
            .custom_fields(&principal.account.id, include_deleted)
            .await
            .map_err(AppError::internal)?;
        Ok::<_, AppError>(Value::Array(fields.iter().map(field_json).collect()))
    }
    .await;
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `PATCH /v1/customMetadataFields/{id}`
pub async fn update(
    State(state): State<AppState>,
    Principal(principal): Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match update_inner(&state, &principal, &id, &body).await {
        Ok(field) => Json(field_json(&field)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn update_inner(
    state: &AppState,
    principal: &KeyWithAccount,
    id: &str,
    body: &[u8],
) -> Result<CustomField, AppError> {
    check_id(id)?;
    let obj = body_object(body, AppError::InvalidFieldObject)?;
    if obj.contains_key("name") {
        return Err(AppError::NameNotUpdatable);
    }
    let present = |key: &str| obj.get(key).filter(|v| !v.is_null());
    if present("label").is_none() && present("schema").is_none() {
        return Err(AppError::LabelOrSchemaRequired);
    }
    let mut errors = FieldErrors::new();
    let label = match present("label") {
        Some(_) => text(&obj, "label", &mut errors),
        None => None,
    };
    if !errors.is_empty() {
        return Err(AppError::InvalidFieldObject(errors));
    }
    let account_id = &principal.account.id;
    let current = state
        .catalog
        .custom_field(account_id, id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::NoSuchField)?;
    if current.deleted {
        return Err(AppError::FieldDeleted);
    }
    let schema = match present("schema") {
        Some(raw) => {
            let kind = current
                .schema
                .get("type")
                .and_then(Value::as_str)
                .and_then(CustomFieldType::from_schema_type);
            let parsed = FieldSchema::parse(raw, kind).map_err(AppError::InvalidSchemaObject)?;
            Some(parsed.to_json())
        }
        None => None,
    };
    match state
        .catalog
        .update_custom_field(account_id, id, label.as_deref(), schema.as_ref())
        .await
        .map_err(AppError::internal)?
    {
        FieldWrite::Done(field) => Ok(field),
        FieldWrite::LabelTaken => Err(AppError::FieldLabelExists),
        FieldWrite::NotFound => Err(AppError::NoSuchField),
        FieldWrite::Deleted => Err(AppError::FieldDeleted),
        FieldWrite::NameTaken => Err(AppError::internal(anyhow::anyhow!(
            "unexpected outcome of a field update"
        ))),
    }
}

/// `DELETE /v1/customMetadataFields/{id}`
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let principal = authenticate_basic(&state, &headers).await?;
        check_id(&id)?;
        let deleted = state
            .catalog
            .delete_custom_field(&principal.account.id, &id)
            .await
            .map_err(AppError::internal)?;
        if deleted {
            Ok(())
        } else {
            Err(AppError::NoSuchField)
        }
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `PATCH`/`DELETE /v1/customMetadataFields/` (no id).
pub async fn missing_id(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authenticate_basic(&state, &headers).await {
        Ok(_) => AppError::MissingIdParam.into_response(),
        Err(e) => e.into_response(),
    }
}
