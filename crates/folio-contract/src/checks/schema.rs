//! How `parse_checks` learns the type of a `request.customMetadata.<name>` field.
//!
//! The custom metadata field definitions live in the server's catalog, which this pure crate
//! cannot reach, so the caller hands in a lookup. Keeping it a one-method trait (with a closure
//! impl) lets the server pass its cached definitions and lets tests pass a literal `match`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The `schema.type` of a custom metadata field (spec §9.1), which decides the operators and
/// literals a `checks` condition on that field may use (spec §7.3, second table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomFieldType {
    /// `Text`: strings.
    Text,
    /// `Textarea` (the 2024 OpenAPI spells it `TextArea`): strings.
    Textarea,
    /// `Number`: JSON numbers.
    Number,
    /// `Date`: ISO 8601 strings, compared as instants.
    Date,
    /// `Boolean`: `true` / `false`.
    Boolean,
    /// `SingleSelect`: one string, number or boolean option.
    SingleSelect,
    /// `MultiSelect`: an array of options.
    MultiSelect,
}

impl CustomFieldType {
    /// Reads a `schema.type` value. Case-insensitive, so both `Textarea` and `TextArea` are
    /// accepted (spec §9.1); anything else is `None`.
    ///
    /// ```
    /// use folio_contract::CustomFieldType;
    /// assert_eq!(CustomFieldType::from_schema_type("TextArea"), Some(CustomFieldType::Textarea));
    /// assert_eq!(CustomFieldType::from_schema_type("Json"), None);
    /// ```
    pub fn from_schema_type(name: &str) -> Option<Self> {
        const ALL: [(&str, CustomFieldType); 7] = [
            ("Text", CustomFieldType::Text),
            ("Textarea", CustomFieldType::Textarea),
            ("Number", CustomFieldType::Number),
            ("Date", CustomFieldType::Date),
            ("Boolean", CustomFieldType::Boolean),
            ("SingleSelect", CustomFieldType::SingleSelect),
            ("MultiSelect", CustomFieldType::MultiSelect),
        ];
        ALL.iter()
            .find(|(wire, _)| wire.eq_ignore_ascii_case(name))
            .map(|&(_, kind)| kind)
    }

    /// The canonical wire spelling (`Textarea`, not `TextArea`).
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::Text => "Text",
            CustomFieldType::Textarea => "Textarea",
            CustomFieldType::Number => "Number",
            CustomFieldType::Date => "Date",
            CustomFieldType::Boolean => "Boolean",
            CustomFieldType::SingleSelect => "SingleSelect",
            CustomFieldType::MultiSelect => "MultiSelect",
        }
    }
}

impl fmt::Display for CustomFieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The custom metadata field definitions `parse_checks` resolves
/// `request.customMetadata.<name>` against.
///
/// `field_type` must return `None` for names that are not defined **or are deleted**: a
/// condition on such a name is a syntax error (spec §7.3).
///
/// Implemented for closures, maps from name to type, and [`NoCustomFields`].
///
/// ```
/// use folio_contract::{parse_checks, CustomFieldType};
///
/// let schemas = |name: &str| (name == "price").then_some(CustomFieldType::Number);
/// assert!(parse_checks(r#""request.customMetadata.price" > 10"#, &schemas).is_ok());
/// assert!(parse_checks(r#""request.customMetadata.color" = "red""#, &schemas).is_err());
/// ```
pub trait CustomFieldSchemas {
    /// The type of the live (non-deleted) field called `name`, if there is one.
    fn field_type(&self, name: &str) -> Option<CustomFieldType>;
}

impl<F> CustomFieldSchemas for F
where
    F: Fn(&str) -> Option<CustomFieldType>,
{
    fn field_type(&self, name: &str) -> Option<CustomFieldType> {
        self(name)
    }
}

impl<S: std::hash::BuildHasher> CustomFieldSchemas for HashMap<String, CustomFieldType, S> {
    fn field_type(&self, name: &str) -> Option<CustomFieldType> {
        self.get(name).copied()
    }
}

impl CustomFieldSchemas for BTreeMap<String, CustomFieldType> {
    fn field_type(&self, name: &str) -> Option<CustomFieldType> {
        self.get(name).copied()
    }
}

/// An account without custom metadata fields: every `request.customMetadata.*` reference is a
/// syntax error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoCustomFields;

impl CustomFieldSchemas for NoCustomFields {
    fn field_type(&self, _name: &str) -> Option<CustomFieldType> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_type_names_round_trip_and_accept_both_textarea_spellings() {
        for kind in [
            CustomFieldType::Text,
            CustomFieldType::Textarea,
            CustomFieldType::Number,
            CustomFieldType::Date,
            CustomFieldType::Boolean,
            CustomFieldType::SingleSelect,
            CustomFieldType::MultiSelect,
        ] {
            assert_eq!(CustomFieldType::from_schema_type(kind.as_str()), Some(kind));
            assert_eq!(
                CustomFieldType::from_schema_type(&kind.as_str().to_ascii_uppercase()),
                Some(kind)
            );
        }
        assert_eq!(
            CustomFieldType::from_schema_type("TextArea"),
            Some(CustomFieldType::Textarea)
        );
        assert_eq!(CustomFieldType::from_schema_type(""), None);
        assert_eq!(CustomFieldType::from_schema_type("Text "), None);
    }

    #[test]
    fn lookups() {
        let mut map = HashMap::new();
        map.insert("a".to_string(), CustomFieldType::Date);
        assert_eq!(map.field_type("a"), Some(CustomFieldType::Date));
        assert_eq!(map.field_type("A"), None);
        let tree: BTreeMap<String, CustomFieldType> =
            [("b".to_string(), CustomFieldType::Boolean)].into();
        assert_eq!(tree.field_type("b"), Some(CustomFieldType::Boolean));
        assert_eq!(NoCustomFields.field_type("a"), None);
    }
}
