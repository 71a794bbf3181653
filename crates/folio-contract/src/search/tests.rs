use super::*;
use crate::NoCustomFields;

const NOW: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

fn schemas(name: &str) -> Option<CustomFieldType> {
    match name {
        "brand" => Some(CustomFieldType::Text),
        "price" => Some(CustomFieldType::Number),
        "launch" => Some(CustomFieldType::Date),
        "sale" => Some(CustomFieldType::Boolean),
        "size" => Some(CustomFieldType::SingleSelect),
        "colors" => Some(CustomFieldType::MultiSelect),
        _ => None,
    }
}

fn ok(text: &str) -> SearchQuery {
    match parse_search(text, &schemas, NOW) {
        Ok(q) => q,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn canonical(text: &str) -> String {
    ok(text).to_string()
}

fn reason(text: &str) -> String {
    match parse_search(text, &schemas, NOW) {
        Ok(q) => panic!("{text:?} parsed: {q}"),
        Err(e) => {
            assert_eq!(
                e.message(),
                format!("Invalid search query - {}", e.reason())
            );
            e.reason().to_owned()
        }
    }
}

fn cond(text: &str) -> Condition {
    match ok(text).expr {
        Expr::Cond(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_spec_example() {
    let q = ok(r#"(size < "1mb" AND width > 500) OR (tags IN ["summer-sale","banner"])"#);
    let Expr::Or(children) = &q.expr else {
        panic!("{q:?}")
    };
    assert_eq!(children.len(), 2);
    assert_eq!(
        q.to_string(),
        r#"size < 1048576 AND width > 500 OR tags IN ["summer-sale", "banner"]"#
    );
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_group() {
    assert_eq!(
        canonical("name = 'a' OR name = 'b' AND size > 1"),
        r#"name = "a" OR name = "b" AND size > 1"#
    );
    let Expr::Or(children) = ok("name = 'a' OR name = 'b' AND size > 1").expr else {
        panic!()
    };
    assert!(matches!(children[1], Expr::And(_)));
    let Expr::And(children) = ok("(name = 'a' OR name = 'b') AND size > 1").expr else {
        panic!()
    };
    assert!(matches!(children[0], Expr::Or(_)));
    // Redundant parentheses flatten.
    assert_eq!(
        canonical("((name = 'a')) and (name = 'b' and (size > 1))"),
        r#"name = "a" AND name = "b" AND size > 1"#
    );
}

#[test]
fn every_operator() {
    assert_eq!(
        cond("name = 'a'").op,
        Op::Cmp(Cmp::Eq, Value::Str("a".into()))
    );
    assert_eq!(
        cond("name NOT = 'a'").op,
        Op::Cmp(Cmp::Ne, Value::Str("a".into()))
    );
    assert_eq!(
        cond("name NOT= 'a'").op,
        Op::Cmp(Cmp::Ne, Value::Str("a".into()))
    );
    assert_eq!(cond("name : 'ab'").op, Op::Prefix("ab".into()));
    assert_eq!(cond("size < 10").op, Op::Cmp(Cmp::Lt, Value::Num(10.0)));
    assert_eq!(cond("size <= 10").op, Op::Cmp(Cmp::Le, Value::Num(10.0)));
    assert_eq!(cond("size > 10").op, Op::Cmp(Cmp::Gt, Value::Num(10.0)));
    assert_eq!(cond("size >= 10").op, Op::Cmp(Cmp::Ge, Value::Num(10.0)));
    assert_eq!(
        cond("tags IN ['a', \"b\"]").op,
        Op::In {
            negated: false,
            values: vec![Value::Str("a".into()), Value::Str("b".into())]
        }
    );
    assert_eq!(
        cond("tags NOT IN ['a']").op,
        Op::In {
            negated: true,
            values: vec![Value::Str("a".into())]
        }
    );
    assert_eq!(
        cond("name HAS 'Summer sale-2024'").op,
        Op::Has(vec!["summer".into(), "sale".into(), "2024".into()])
    );
    assert_eq!(cond("tags EXISTS").op, Op::Exists(true));
    assert_eq!(cond("tags not exists").op, Op::Exists(false));
}

#[test]
fn fields_and_values() {
    assert_eq!(
        cond("createdAt > '7d'").op,
        Op::Cmp(Cmp::Gt, Value::Date(NOW - 7 * 86_400_000))
    );
    assert_eq!(
        cond("updatedAt <= '2024-01-01'").op,
        Op::Cmp(Cmp::Le, Value::Date(1_704_067_200_000))
    );
    assert_eq!(
        cond("createdAt = \"2020-01-01T12:12:12\"").op,
        Op::Cmp(Cmp::Eq, Value::Date(1_577_880_732_000))
    );
    assert_eq!(
        cond("size >= '10kb'").op,
        Op::Cmp(Cmp::Ge, Value::Num(10_240.0))
    );
    assert_eq!(
        cond("videoDuration < '1.5min'").op,
        Op::Cmp(Cmp::Lt, Value::Num(90.0))
    );
    assert_eq!(
        cond("videoDuration < 20").op,
        Op::Cmp(Cmp::Lt, Value::Num(20.0))
    );
    assert_eq!(
        cond("format = 'JPG'").op,
        Op::Cmp(Cmp::Eq, Value::Str("jpg".into()))
    );
    assert_eq!(
        cond("private = true").op,
        Op::Cmp(Cmp::Eq, Value::Bool(true))
    );
    assert_eq!(
        cond("published = FALSE").op,
        Op::Cmp(Cmp::Eq, Value::Bool(false))
    );
    assert_eq!(cond("transparency = true").field, Field::Transparency);
    assert_eq!(
        cond("path = 'a//b'").op,
        Op::Cmp(Cmp::Eq, Value::Str("/a/b/".into()))
    );
    assert_eq!(cond("path : '/'").op, Op::Prefix("/".into()));
    assert_eq!(cond("type IN ['file', 'folder']").field, Field::Type);
    assert_eq!(cond("id = 'abc'").field, Field::Id);
    assert_eq!(cond("height > 1").field, Field::Height);
    // Built-in field names may be quoted too.
    assert_eq!(cond("'name' = 'a'").field, Field::Name);
    assert_eq!(
        cond("\"embeddedMetadata.Keywords\" IN ['x']").field,
        Field::Embedded("Keywords".into())
    );
    assert_eq!(
        cond("\"embeddedMetadata.DateTimeOriginal\" > '2020-01-01'").op,
        Op::Cmp(Cmp::Gt, Value::Date(1_577_836_800_000))
    );
    assert_eq!(
        cond("'embeddedMetadata.Make' : 'Can'").field,
        Field::Embedded("Make".into())
    );
}

#[test]
fn custom_metadata_is_typed_by_the_schema() {
    assert_eq!(
        cond("\"customMetadata.price\" > 10").field,
        Field::Custom {
            name: "price".into(),
            kind: CustomFieldType::Number
        }
    );
    ok("\"customMetadata.brand\" : 'Ni'");
    ok("\"customMetadata.brand\" HAS 'ni'");
    ok("\"customMetadata.launch\" < '1y'");
    ok("\"customMetadata.sale\" NOT = true");
    ok("\"customMetadata.size\" IN ['M', 42, true]");
    ok("\"customMetadata.size\" > 3");
    ok("\"customMetadata.colors\" IN ['red']");
    ok("\"customMetadata.brand\" EXISTS");
    assert_eq!(
        reason("\"customMetadata.nope\" = 'x'"),
        "unknown custom metadata field `nope`"
    );
    assert!(reason("\"customMetadata.price\" : 'x'").contains("not allowed"));
    assert!(reason("\"customMetadata.price\" = '10'").starts_with("wrong value"));
    assert!(reason("\"customMetadata.sale\" < true").contains("not allowed"));
    assert!(reason("\"customMetadata.size\" > 'M'").starts_with("wrong value"));
    assert!(reason("\"customMetadata.colors\" = 'red'").contains("not allowed"));
    assert!(reason("customMetadata.price > 1").contains("must be quoted"));
    // Without fields, every custom field is unknown.
    assert!(parse_search("\"customMetadata.price\" > 1", &NoCustomFields, NOW).is_err());
}

#[test]
fn wrong_operators_and_values() {
    for (text, wanted) in [
        ("colour = 'red'", "unknown field `colour`"),
        ("Name = 'a'", "unknown field `Name`"),
        ("tags = 'a'", "operator `=` is not allowed for field `tags`"),
        (
            "size : '1mb'",
            "operator `:` is not allowed for field `size`",
        ),
        (
            "private NOT = true",
            "operator `NOT =` is not allowed for field `private`",
        ),
        (
            "format NOT IN ['jpg']",
            "operator `NOT IN` is not allowed for field `format`",
        ),
        (
            "type : 'file'",
            "operator `:` is not allowed for field `type`",
        ),
        ("name < 'a'", "operator `<` is not allowed for field `name`"),
        (
            "createdAt EXISTS",
            "operator `EXISTS` is not allowed for field `createdAt`",
        ),
    ] {
        assert_eq!(reason(text), wanted, "{text}");
    }
    for text in [
        "name = 1",
        "name = true",
        "size < 'big'",
        "size < true",
        "width > '5'",
        "private = 'true'",
        "type = 'image'",
        "createdAt > 5",
        "createdAt > 'yesterday'",
        "videoDuration > '2 days'",
        "tags IN [1]",
        "name IN ['a', 2]",
    ] {
        let r = reason(text);
        assert!(r.contains('`'), "{text}: {r}");
    }
    assert!(reason("format = 'exe'").contains("is not a format"));
    assert!(reason("'embeddedMetadata.LocationTaken' = '1,2 5km'").contains("not supported"));
}

#[test]
fn syntax_errors() {
    for text in [
        "",
        "   ",
        "name",
        "name =",
        "name = 'a' AND",
        "name = 'a' OR OR name = 'b'",
        "(name = 'a'",
        "name = 'a')",
        "name = abc",
        "name = 'abc",
        "name == 'a'",
        "name IN []",
        "name IN ['a',]",
        "name IN 'a'",
        "size < 1mb",
        "NOT name = 'a'",
        "name NOT 'a'",
        "name = 'a' name = 'b'",
        "= 'a'",
        "name HAS '--'",
        "name ! 'a'",
    ] {
        let r = reason(text);
        assert!(!r.is_empty(), "{text}");
    }
    assert_eq!(
        reason("name = abc"),
        "the value `abc` must be quoted (position 7)"
    );
    assert_eq!(
        reason("name = 'a' AND"),
        "expected a field name: the query ends too early"
    );
    let deep = format!("{}name = 'a'{}", "(".repeat(65), ")".repeat(65));
    assert!(reason(&deep).contains("nested"));
    let ok_deep = format!("{}name = 'a'{}", "(".repeat(64), ")".repeat(64));
    ok(&ok_deep);
    let long = format!("name = '{}'", "a".repeat(MAX_SEARCH_BYTES));
    assert!(reason(&long).contains("longer"));
    let many = vec!["size > 1"; MAX_CONDITIONS + 1].join(" OR ");
    assert!(reason(&many).contains("conditions"));
}

#[test]
fn canonical_form_parses_back() {
    for text in [
        r#"name : "a\"b" AND (tags IN ['x'] OR size >= '1.5mb')"#,
        "createdAt > '2w' OR updatedAt < '2020-02-02T10:00:00+02:00'",
        "path : 'a/b' AND type NOT IN ['folder']",
        "name HAS 'Hello World' AND videoDuration > '2hr'",
        "\"customMetadata.size\" IN ['M', 42, true] AND \"customMetadata.colors\" NOT IN [1]",
        "'embeddedMetadata.ISO' >= 100 AND tags NOT EXISTS",
    ] {
        let first = ok(text);
        let printed = first.to_string();
        assert_eq!(ok(&printed), first, "{text} -> {printed}");
    }
}
