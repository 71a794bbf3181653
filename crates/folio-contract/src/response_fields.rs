//! The `responseFields` parameter (spec §4.3).

use std::fmt;

/// One optional key of the upload response that `responseFields` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResponseField {
    /// `tags`
    Tags,
    /// `customCoordinates`
    CustomCoordinates,
    /// `isPrivateFile`
    IsPrivateFile,
    /// `isPublished`
    IsPublished,
    /// `customMetadata`
    CustomMetadata,
    /// `embeddedMetadata`
    EmbeddedMetadata,
    /// `metadata`
    Metadata,
    /// `selectedFieldsSchema`
    SelectedFieldsSchema,
}

impl ResponseField {
    /// All accepted names, in the spec's order.
    pub const ALL: [ResponseField; 8] = [
        ResponseField::Tags,
        ResponseField::CustomCoordinates,
        ResponseField::IsPrivateFile,
        ResponseField::IsPublished,
        ResponseField::CustomMetadata,
        ResponseField::EmbeddedMetadata,
        ResponseField::Metadata,
        ResponseField::SelectedFieldsSchema,
    ];

    /// The name on the wire, which is also the JSON key it adds to the response.
    pub fn wire_name(self) -> &'static str {
        match self {
            ResponseField::Tags => "tags",
            ResponseField::CustomCoordinates => "customCoordinates",
            ResponseField::IsPrivateFile => "isPrivateFile",
            ResponseField::IsPublished => "isPublished",
            ResponseField::CustomMetadata => "customMetadata",
            ResponseField::EmbeddedMetadata => "embeddedMetadata",
            ResponseField::Metadata => "metadata",
            ResponseField::SelectedFieldsSchema => "selectedFieldsSchema",
        }
    }

    /// Looks up a wire name, case-sensitively (`Tags` is not `tags`).
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.wire_name() == name)
    }

    fn bit(self) -> u8 {
        // Eight variants, eight bits.
        1 << (self as u8)
    }
}

impl fmt::Display for ResponseField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// The set of extra response keys a request asked for. Empty by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFields(u8);

impl ResponseFields {
    /// The empty set (no `responseFields`).
    pub fn empty() -> Self {
        ResponseFields(0)
    }

    /// Parses a `responseFields` value. Never fails: entries are split on `,`, trimmed and
    /// matched case-sensitively; unknown and empty entries are ignored (spec §4.3).
    ///
    /// ```
    /// use folio_contract::{ResponseField, ResponseFields};
    /// let fields = ResponseFields::parse("tags, isPrivateFile,Metadata,bogus");
    /// assert!(fields.contains(ResponseField::Tags));
    /// assert!(fields.contains(ResponseField::IsPrivateFile));
    /// assert!(!fields.contains(ResponseField::Metadata)); // wrong case
    /// assert_eq!(fields.iter().count(), 2);
    /// ```
    pub fn parse(raw: &str) -> Self {
        raw.split(',')
            .filter_map(|name| ResponseField::from_wire_name(name.trim()))
            .collect()
    }

    /// Whether `field` was requested.
    pub fn contains(self, field: ResponseField) -> bool {
        self.0 & field.bit() != 0
    }

    /// Adds `field` to the set.
    pub fn insert(&mut self, field: ResponseField) {
        self.0 |= field.bit();
    }

    /// Whether nothing was requested.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The requested fields in the spec's order.
    pub fn iter(self) -> impl Iterator<Item = ResponseField> {
        ResponseField::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<ResponseField> for ResponseFields {
    fn from_iter<I: IntoIterator<Item = ResponseField>>(iter: I) -> Self {
        let mut set = ResponseFields::empty();
        for field in iter {
            set.insert(field);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct_bits() {
        let mut all = ResponseFields::empty();
        for field in ResponseField::ALL {
            assert_eq!(
                ResponseField::from_wire_name(field.wire_name()),
                Some(field)
            );
            assert!(!all.contains(field));
            all.insert(field);
        }
        assert_eq!(all.iter().count(), 8);
    }

    #[test]
    fn appendix_a_item_17() {
        let fields = ResponseFields::parse("tags,isPrivateFile");
        let got: Vec<ResponseField> = fields.iter().collect();
        assert_eq!(got, [ResponseField::Tags, ResponseField::IsPrivateFile]);
        assert!(ResponseFields::default().is_empty());
        assert!(!ResponseFields::default().contains(ResponseField::Tags));
    }

    #[test]
    fn spec_example_three_fields() {
        let got: Vec<&str> = ResponseFields::parse("tags,customCoordinates,isPrivateFile")
            .iter()
            .map(ResponseField::wire_name)
            .collect();
        assert_eq!(got, ["tags", "customCoordinates", "isPrivateFile"]);
    }

    #[test]
    fn all_eight_accepted() {
        let raw = "tags,customCoordinates,isPrivateFile,isPublished,customMetadata,\
                   embeddedMetadata,metadata,selectedFieldsSchema";
        assert_eq!(ResponseFields::parse(raw).iter().count(), 8);
    }

    #[test]
    fn trimmed_case_sensitive_unknown_ignored() {
        let fields = ResponseFields::parse(" tags ,\tmetadata\n,TAGS,IsPublished,foo,,");
        let got: Vec<ResponseField> = fields.iter().collect();
        assert_eq!(got, [ResponseField::Tags, ResponseField::Metadata]);
        assert!(ResponseFields::parse("nothing,known").is_empty());
        assert!(ResponseFields::parse("").is_empty());
    }
}
