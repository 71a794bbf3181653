//! Custom metadata field schemas (spec §9.1) and the validation of `customMetadata` values
//! against them (spec §9.3). Pure functions: the HTTP handlers and the upload pipeline feed
//! them the account's fields.

use std::collections::BTreeMap;

use folio_contract::{parse_iso_instant, CustomFieldSchemas, CustomFieldType};
use serde_json::{Map, Value};

use crate::store::CustomField;

/// Per-key problems, the `errors` object of a 400 (spec §5.1).
pub type Errors = BTreeMap<String, String>;

/// The keys a `schema` object may have.
const SCHEMA_KEYS: [&str; 8] = [
    "type",
    "selectOptions",
    "defaultValue",
    "isValueRequired",
    "minValue",
    "maxValue",
    "minLength",
    "maxLength",
];

const TYPE_REASON: &str =
    "should be one of Text, Textarea, Number, Date, Boolean, SingleSelect, MultiSelect";
const NOT_ALLOWED: &str = "not allowed for this type";

/// A validated `schema` object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSchema {
    pub kind: CustomFieldType,
    pub select_options: Option<Vec<Value>>,
    pub default_value: Option<Value>,
    pub is_value_required: bool,
    /// A JSON number (`Number`) or an ISO 8601 string (`Date`).
    pub min_value: Option<Value>,
    pub max_value: Option<Value>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
}

impl FieldSchema {
    /// Reads a `schema` object. With `fixed_type` (an update), the type is that one and any
    /// `type` key of the object is ignored (spec §9.2).
    pub fn parse(raw: &Value, fixed_type: Option<CustomFieldType>) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let Some(obj) = raw.as_object() else {
            errors.insert("schema".to_owned(), "should be an object".to_owned());
            return Err(errors);
        };
        for key in obj.keys() {
            if !SCHEMA_KEYS.contains(&key.as_str()) {
                errors.insert(key.clone(), "not allowed".to_owned());
            }
        }
        let kind = match fixed_type {
            Some(kind) => kind,
            None => match obj.get("type") {
                Some(Value::String(name)) => match CustomFieldType::from_schema_type(name) {
                    Some(kind) => kind,
                    None => {
                        errors.insert("type".to_owned(), TYPE_REASON.to_owned());
                        return Err(errors);
                    }
                },
                Some(_) => {
                    errors.insert("type".to_owned(), TYPE_REASON.to_owned());
                    return Err(errors);
                }
                None => {
                    errors.insert("type".to_owned(), "is required".to_owned());
                    return Err(errors);
                }
            },
        };
        let present = |key: &str| obj.get(key).filter(|v| !v.is_null());
        let is_select = matches!(
            kind,
            CustomFieldType::SingleSelect | CustomFieldType::MultiSelect
        );
        let is_text = matches!(kind, CustomFieldType::Text | CustomFieldType::Textarea);

        let select_options = match (present("selectOptions"), is_select) {
            (Some(Value::Array(items)), true)
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|v| v.is_string() || v.is_number() || v.is_boolean()) =>
            {
                Some(items.clone())
            }
            (Some(_), true) => {
                errors.insert(
                    "selectOptions".to_owned(),
                    "should be a non-empty array of strings, numbers or booleans".to_owned(),
                );
                None
            }
            (None, true) => {
                errors.insert(
                    "selectOptions".to_owned(),
                    "is required for this type".to_owned(),
                );
                None
            }
            (Some(_), false) => {
                errors.insert("selectOptions".to_owned(), NOT_ALLOWED.to_owned());
                None
            }
            (None, false) => None,
        };

        let mut bound = |key: &str| -> Option<Value> {
            let value = present(key)?;
            match kind {
                CustomFieldType::Number if value.is_number() => Some(value.clone()),
                CustomFieldType::Number => {
                    errors.insert(key.to_owned(), "should be of type number".to_owned());
                    None
                }
                CustomFieldType::Date if value.as_str().and_then(parse_iso_instant).is_some() => {
                    Some(value.clone())
                }
                CustomFieldType::Date => {
                    errors.insert(key.to_owned(), "should be an ISO 8601 date".to_owned());
                    None
                }
                _ => {
                    errors.insert(key.to_owned(), NOT_ALLOWED.to_owned());
                    None
                }
            }
        };
        let min_value = bound("minValue");
        let max_value = bound("maxValue");

        let mut length = |key: &str| -> Option<u64> {
            let value = present(key)?;
            if !is_text {
                errors.insert(key.to_owned(), NOT_ALLOWED.to_owned());
                return None;
            }
            match value.as_u64() {
                Some(n) => Some(n),
                None => {
                    errors.insert(
                        key.to_owned(),
                        "should be a non-negative integer".to_owned(),
                    );
                    None
                }
            }
        };
        let min_length = length("minLength");
        let max_length = length("maxLength");

        let is_value_required = match present("isValueRequired") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.insert(
                    "isValueRequired".to_owned(),
                    "should be of type boolean".to_owned(),
                );
                false
            }
        };

        let mut schema = FieldSchema {
            kind,
            select_options,
            default_value: None,
            is_value_required,
            min_value,
            max_value,
            min_length,
            max_length,
        };
        if let (Some(min), Some(max)) = (&schema.min_value, &schema.max_value) {
            if schema.instant_or_number(min) > schema.instant_or_number(max) {
                errors.insert("maxValue".to_owned(), "should be >= minValue".to_owned());
            }
        }
        if let (Some(min), Some(max)) = (schema.min_length, schema.max_length) {
            if min > max {
                errors.insert("maxLength".to_owned(), "should be >= minLength".to_owned());
            }
        }
        if errors.is_empty() {
            match present("defaultValue") {
                Some(value) => match schema.check(value) {
                    Ok(()) => schema.default_value = Some(value.clone()),
                    Err(reason) => {
                        errors.insert("defaultValue".to_owned(), reason);
                    }
                },
                None if schema.is_value_required => {
                    errors.insert(
                        "defaultValue".to_owned(),
                        "is required when isValueRequired is true".to_owned(),
                    );
                }
                None => {}
            }
        }
        if errors.is_empty() {
            Ok(schema)
        } else {
            Err(errors)
        }
    }

    /// The canonical `schema` object (type spelled `Textarea`, absent keys omitted).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".to_owned(), Value::from(self.kind.as_str()));
        if let Some(options) = &self.select_options {
            obj.insert("selectOptions".to_owned(), Value::Array(options.clone()));
        }
        if let Some(value) = &self.default_value {
            obj.insert("defaultValue".to_owned(), value.clone());
        }
        if self.is_value_required {
            obj.insert("isValueRequired".to_owned(), Value::Bool(true));
        }
        if let Some(v) = &self.min_value {
            obj.insert("minValue".to_owned(), v.clone());
        }
        if let Some(v) = &self.max_value {
            obj.insert("maxValue".to_owned(), v.clone());
        }
        if let Some(v) = self.min_length {
            obj.insert("minLength".to_owned(), Value::from(v));
        }
        if let Some(v) = self.max_length {
            obj.insert("maxLength".to_owned(), Value::from(v));
        }
        Value::Object(obj)
    }

    /// A bound as a comparable number: the value of a `Number` bound, the instant (in
    /// nanoseconds) of a `Date` bound.
    fn instant_or_number(&self, bound: &Value) -> Option<f64> {
        match self.kind {
            CustomFieldType::Date => bound.as_str().and_then(parse_iso_instant).map(|i| i as f64),
            _ => bound.as_f64(),
        }
    }

    /// Spec §9.3 step 3: whether `value` (not `null`) fits this schema; the reason otherwise.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match self.kind {
            CustomFieldType::Text | CustomFieldType::Textarea => {
                let Some(text) = value.as_str() else {
                    return Err("should be of type string".to_owned());
                };
                let chars = text.chars().count() as u64;
                if let Some(min) = self.min_length.filter(|&min| chars < min) {
                    return Err(format!("should have at least {min} characters"));
                }
                if let Some(max) = self.max_length.filter(|&max| chars > max) {
                    return Err(format!("should have at most {max} characters"));
                }
                Ok(())
            }
            CustomFieldType::Number => {
                let Some(n) = value.as_f64().filter(|_| value.is_number()) else {
                    return Err("should be of type number".to_owned());
                };
                self.within(n, value)
            }
            CustomFieldType::Date => {
                let Some(instant) = value.as_str().and_then(parse_iso_instant) else {
                    return Err("should be an ISO 8601 date".to_owned());
                };
                self.within(instant as f64, value)
            }
            CustomFieldType::Boolean => match value {
                Value::Bool(_) => Ok(()),
                _ => Err("should be of type boolean".to_owned()),
            },
            CustomFieldType::SingleSelect => {
                if self.is_option(value) {
                    Ok(())
                } else {
                    Err("value not in selectOptions".to_owned())
                }
            }
            CustomFieldType::MultiSelect => match value {
                Value::Array(items) if items.iter().all(|v| self.is_option(v)) => Ok(()),
                Value::Array(_) => Err("value not in selectOptions".to_owned()),
                _ => Err("should be an array of selectOptions values".to_owned()),
            },
        }
    }

    fn within(&self, n: f64, _value: &Value) -> Result<(), String> {
        if let Some(min) = &self.min_value {
            if self.instant_or_number(min).is_some_and(|m| n < m) {
                return Err(format!("should be >= {}", display(min)));
            }
        }
        if let Some(max) = &self.max_value {
            if self.instant_or_number(max).is_some_and(|m| n > m) {
                return Err(format!("should be <= {}", display(max)));
            }
        }
        Ok(())
    }

    /// Equal in type and value to one of `selectOptions` (numbers compared numerically).
    fn is_option(&self, value: &Value) -> bool {
        let options = self.select_options.as_deref().unwrap_or_default();
        options.iter().any(|option| match (option, value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        })
    }
}

fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The live fields of an account with their parsed schemas: what upload validation and
/// `checks` typing work from.
#[derive(Debug, Default)]
pub struct LiveFields {
    fields: BTreeMap<String, FieldSchema>,
}

impl LiveFields {
    /// Keeps the non-deleted fields; a stored schema that no longer parses (it never should)
    /// leaves its field out.
    pub fn new(fields: &[CustomField]) -> Self {
        let fields = fields
            .iter()
            .filter(|f| !f.deleted)
            .filter_map(|f| {
                FieldSchema::parse(&f.schema, None)
                    .ok()
                    .map(|s| (f.name.clone(), s))
            })
            .collect();
        LiveFields { fields }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// Spec §9.3 steps 1–3 on a request's `customMetadata`: the provided (non-null) values.
    pub fn validate(&self, request: &Map<String, Value>) -> Result<Map<String, Value>, Errors> {
        let mut errors = Errors::new();
        let mut values = Map::new();
        for (key, value) in request {
            let Some(schema) = self.fields.get(key) else {
                errors.insert(
                    key.clone(),
                    "not a defined custom metadata field".to_owned(),
                );
                continue;
            };
            if value.is_null() {
                continue;
            }
            match schema.check(value) {
                Ok(()) => {
                    values.insert(key.clone(), value.clone());
                }
                Err(reason) => {
                    errors.insert(key.clone(), reason);
                }
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }

    /// Spec §9.3 steps 4–5: fills in defaults, then reports required fields still without a
    /// value.
    pub fn complete(&self, values: &mut Map<String, Value>) -> Result<(), Errors> {
        let mut errors = Errors::new();
        for (name, schema) in &self.fields {
            if values.contains_key(name) {
                continue;
            }
            if let Some(default) = &schema.default_value {
                values.insert(name.clone(), default.clone());
            } else if schema.is_value_required {
                errors.insert(name.clone(), "is required".to_owned());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Every live field's `defaultValue`.
    pub fn defaults(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .filter_map(|(name, s)| s.default_value.clone().map(|v| (name.clone(), v)))
            .collect()
    }
}

impl CustomFieldSchemas for LiveFields {
    fn field_type(&self, name: &str) -> Option<CustomFieldType> {
        self.fields.get(name).map(|s| s.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(raw: Value) -> Errors {
        FieldSchema::parse(&raw, None).expect_err("invalid")
    }

    #[test]
    fn schema_rules() {
        let s =
            FieldSchema::parse(&json!({"type": "textarea", "maxLength": 3}), None).expect("valid");
        assert_eq!(s.to_json(), json!({"type": "Textarea", "maxLength": 3}));
        assert_eq!(errors(json!({"type": "Json"}))["type"], TYPE_REASON);
        let e = errors(json!({"type": "Number", "minValue": "1", "maxLength": 3}));
        assert_eq!(e["minValue"], "should be of type number");
        assert_eq!(e["maxLength"], NOT_ALLOWED);
        assert_eq!(
            errors(json!({"type": "SingleSelect"}))["selectOptions"],
            "is required for this type"
        );
        assert_eq!(
            errors(json!({"type": "Text", "selectOptions": ["a"]}))["selectOptions"],
            NOT_ALLOWED
        );
        assert_eq!(
            errors(json!({"type": "Text", "isValueRequired": true}))["defaultValue"],
            "is required when isValueRequired is true"
        );
        assert_eq!(
            errors(json!({"type": "Number", "minValue": 5, "defaultValue": 1}))["defaultValue"],
            "should be >= 5"
        );
        assert_eq!(
            errors(json!({"type": "Date", "minValue": "2024-02-01", "maxValue": "2024-01-01"}))
                ["maxValue"],
            "should be >= minValue"
        );
        let d = FieldSchema::parse(
            &json!({"type": "TEXTAREA", "minValue": 1}),
            Some(CustomFieldType::Text),
        );
        assert_eq!(d.expect_err("x")["minValue"], NOT_ALLOWED);
    }

    #[test]
    fn values_by_type() {
        let parse = |raw: Value| FieldSchema::parse(&raw, None).expect("valid");
        let date = parse(
            json!({"type": "Date", "minValue": "2020-01-01", "maxValue": "2021-01-01T00:00:00Z"}),
        );
        assert!(date.check(&json!("2020-06-01T10:00:00")).is_ok());
        assert!(date.check(&json!("2019-06-01")).is_err());
        assert!(date.check(&json!("June")).is_err());
        let multi = parse(json!({"type": "MultiSelect", "selectOptions": ["a", 1, true]}));
        assert!(multi.check(&json!(["a", 1.0, true])).is_ok());
        assert!(multi.check(&json!(["b"])).is_err());
        assert!(multi.check(&json!("a")).is_err());
        let single = parse(json!({"type": "SingleSelect", "selectOptions": ["1"]}));
        assert!(single.check(&json!(1)).is_err());
        let boolean = parse(json!({"type": "Boolean"}));
        assert!(boolean.check(&json!("true")).is_err());
    }
}
