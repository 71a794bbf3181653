//! The `searchQuery` language (spec §8.9, media-api §3): parser and SQL compiler.

use folio::store::listing::{compile, Dialect, ListQuery, Sql};
use folio_contract::search::{parse_search, MAX_SEARCH_BYTES};
use folio_contract::CustomFieldType;

use crate::text::lossy;

/// Custom metadata fields the queries may name: one of every type.
fn schemas(name: &str) -> Option<CustomFieldType> {
    Some(match name {
        "brand" => CustomFieldType::Text,
        "notes" => CustomFieldType::Textarea,
        "qty" => CustomFieldType::Number,
        "launch" => CustomFieldType::Date,
        "featured" => CustomFieldType::Boolean,
        "size" => CustomFieldType::SingleSelect,
        "tuple" => CustomFieldType::MultiSelect,
        _ => return None,
    })
}

/// 2025-01-01T00:00:00Z in milliseconds: what relative dates count back from.
const NOW_MS: i64 = crate::NOW * 1000;

/// The whole input as a `searchQuery`.
///
/// A refusal is `Invalid search query - <reason>` with a reason. An accepted query prints in a
/// canonical form that parses back to it (when that form fits the length limit), and compiles
/// for both dialects to a statement whose placeholders and bind values agree in number — the
/// property that keeps a query from binding one value to another's place.
pub fn search(data: &[u8]) {
    let text = lossy(data);
    let query = match parse_search(&text, &schemas, NOW_MS) {
        Ok(query) => query,
        Err(e) => {
            assert_eq!(
                e.message(),
                format!("Invalid search query - {}", e.reason())
            );
            assert!(!e.reason().is_empty());
            return;
        }
    };
    assert!(text.len() <= MAX_SEARCH_BYTES);

    let printed = query.to_string();
    if printed.len() <= MAX_SEARCH_BYTES {
        match parse_search(&printed, &schemas, NOW_MS) {
            Ok(again) => assert_eq!(again, query, "{text:?} printed as {printed:?}"),
            Err(e) => panic!("{text:?} printed as {printed:?}, which fails: {e}"),
        }
    }

    let list = ListQuery {
        search: Some(query),
        include_folder: data.len() % 2 == 0,
        ..ListQuery::default()
    };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let sql = compile(&list, "account", dialect);
        assert_eq!(
            placeholders(&sql, dialect),
            sql.binds.len(),
            "{dialect:?}: {}",
            sql.text
        );
        assert!(sql.text.contains("LIMIT"), "{}", sql.text);
    }
}

/// How many distinct bind values the statement refers to: `?` count for SQLite (values bind by
/// position), the highest `$n` for PostgreSQL, which must also use every number below it.
/// Literal text never holds `?` or `$`: every value from the query is a bind.
fn placeholders(sql: &Sql, dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => sql.text.matches('?').count(),
        Dialect::Postgres => {
            let mut used = Vec::new();
            let bytes = sql.text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'$' {
                    let start = i + 1;
                    let mut end = start;
                    while end < bytes.len() && bytes[end].is_ascii_digit() {
                        end += 1;
                    }
                    if let Ok(n) = sql.text[start..end].parse::<usize>() {
                        used.push(n);
                    }
                    i = end;
                } else {
                    i += 1;
                }
            }
            used.sort_unstable();
            used.dedup();
            let max = used.last().copied().unwrap_or(0);
            assert_eq!(used, (1..=max).collect::<Vec<_>>(), "gaps in {}", sql.text);
            max
        }
    }
}
