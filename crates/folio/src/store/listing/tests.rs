use super::*;
use folio_contract::search::parse_search;

const NOW: i64 = 1_735_689_600_000;

fn fields(name: &str) -> Option<CustomFieldType> {
    match name {
        "price" => Some(CustomFieldType::Number),
        "launch" => Some(CustomFieldType::Date),
        _ => None,
    }
}

fn search(text: &str) -> ListQuery {
    ListQuery {
        search: Some(parse_search(text, &fields, NOW).expect("query")),
        ..ListQuery::default()
    }
}

fn both(q: &ListQuery) -> (Sql, Sql) {
    (
        compile(q, "acc", Dialect::Sqlite),
        compile(q, "acc", Dialect::Postgres),
    )
}

/// Placeholders and bind values agree in number (and PostgreSQL's are numbered in order).
fn aligned(sql: &Sql, dialect: Dialect) {
    match dialect {
        Dialect::Sqlite => assert_eq!(
            sql.text.matches('?').count(),
            sql.binds.len(),
            "{}",
            sql.text
        ),
        Dialect::Postgres => {
            for n in 1..=sql.binds.len() {
                assert!(sql.text.contains(&format!("${n}")), "${n} in {}", sql.text);
            }
            assert!(!sql.text.contains(&format!("${}", sql.binds.len() + 1)));
        }
    }
}

#[test]
fn default_listing_is_one_ordered_branch_with_a_deferred_join() {
    let (lite, pg) = both(&ListQuery::default());
    // The page is chosen over `files` alone (index order), then read whole.
    assert!(
        lite.text.contains(
            "FROM files f JOIN file_versions v ON v.version_id = f.current_version_id \
         WHERE v.version_id IN (SELECT f.current_version_id FROM files f \
         WHERE f.account_id = ? ORDER BY f.created_at ASC, f.file_id LIMIT ? OFFSET ?) \
         ORDER BY f.created_at ASC, f.file_id"
        ),
        "{}",
        lite.text
    );
    assert_eq!(
        lite.binds,
        [Bind::Text("acc".into()), Bind::Int(1000), Bind::Int(0)]
    );
    assert!(pg.text.contains(
        "WHERE f.account_id = $1 ORDER BY f.created_at ASC, f.file_id LIMIT $2 OFFSET $3)"
    ));
    assert!(!lite.text.contains("UNION"));
    // A filter or order on version columns keeps the join inside.
    let q = ListQuery {
        sort: Sort {
            key: SortKey::Size,
            descending: false,
        },
        ..ListQuery::default()
    };
    assert!(compile(&q, "a", Dialect::Sqlite)
        .text
        .contains("(SELECT v.version_id FROM files f JOIN file_versions v"));
}

#[test]
fn mentions_of_the_version_alias() {
    assert!(mentions_versions("v.size > 1"));
    assert!(mentions_versions("(v.size"));
    assert!(mentions_versions("json_each(v.media)"));
    assert!(!mentions_versions(
        "f.current_version_id IN (SELECT t.version_id FROM version_tags t)"
    ));
    assert!(!mentions_versions("d.name"));
}

#[test]
fn path_sort_and_paging() {
    let q = ListQuery {
        path: Some("/a/".into()),
        sort: Sort {
            key: SortKey::Size,
            descending: true,
        },
        limit: 10,
        skip: 20,
        file_type: FileTypeFilter::Image,
        ..ListQuery::default()
    };
    let (lite, pg) = both(&q);
    assert!(
        lite.text.contains(
            "f.folder_path = ? AND v.file_type = 'image') ORDER BY v.size DESC, f.file_id"
        ),
        "{}",
        lite.text
    );
    assert_eq!(
        lite.binds,
        [
            Bind::Text("acc".into()),
            Bind::Text("/a/".into()),
            Bind::Int(10),
            Bind::Int(20)
        ]
    );
    aligned(&pg, Dialect::Postgres);
}

#[test]
fn all_unions_files_and_folders() {
    let q = ListQuery {
        list_type: ListType::All,
        ..ListQuery::default()
    };
    let (lite, pg) = both(&q);
    assert!(lite
        .text
        .starts_with("SELECT * FROM (SELECT 'file' AS kind"));
    assert!(lite.text.contains("UNION ALL SELECT 'folder' AS kind"));
    assert!(lite
        .text
        .contains("ORDER BY u.created_at ASC, u.item_id, u.version_id"));
    assert!(pg.text.contains("NULL::text AS version_id"));
    assert!(pg.text.contains("ORDER BY u.created_at ASC NULLS FIRST"));
    aligned(&lite, Dialect::Sqlite);
    aligned(&pg, Dialect::Postgres);
    // fileType leaves folders out.
    let q = ListQuery {
        list_type: ListType::All,
        file_type: FileTypeFilter::NonImage,
        ..ListQuery::default()
    };
    assert!(!compile(&q, "a", Dialect::Sqlite).text.contains("folder"));
}

#[test]
fn name_prefix_is_an_index_range() {
    let (lite, pg) = both(&search("name : 'abc'"));
    assert!(
        lite.text.contains("(f.name >= ? AND f.name < ?)"),
        "{}",
        lite.text
    );
    assert_eq!(
        lite.binds[1..3],
        [Bind::Text("abc".into()), Bind::Text("abd".into())]
    );
    assert!(pg
        .text
        .contains("(f.name COLLATE \"C\" >= $2 AND f.name COLLATE \"C\" < $3)"));
}

#[test]
fn successor_is_the_least_upper_bound() {
    assert_eq!(successor("abc").as_deref(), Some("abd"));
    assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
    assert_eq!(successor("\u{10FFFF}"), None);
    assert_eq!(successor(""), None);
}

#[test]
fn tags_use_the_side_table() {
    let (lite, pg) = both(&search("tags IN ['a', 'b']"));
    assert!(lite.text.contains(
        "+f.current_version_id IN (SELECT t.version_id FROM version_tags t WHERE t.account_id = ? AND t.tag IN (?, ?))"
    ), "{}", lite.text);
    aligned(&pg, Dialect::Postgres);
    let (lite, _) = both(&search("tags NOT IN ['a']"));
    assert!(lite.text.contains("+f.current_version_id NOT IN (SELECT"));
    assert!(pg.text.contains(" f.current_version_id IN (SELECT"));
    // Older versions are matched by their own id.
    let q = ListQuery {
        list_type: ListType::FileVersion,
        tags: Some(vec!["a".into()]),
        ..ListQuery::default()
    };
    assert!(compile(&q, "a", Dialect::Sqlite)
        .text
        .contains("v.version_id IN (SELECT t.version_id"));
    // The legacy parameter means the same as IN.
    let q = ListQuery {
        tags: Some(vec!["a".into()]),
        ..ListQuery::default()
    };
    assert!(compile(&q, "a", Dialect::Sqlite)
        .text
        .contains("version_tags"));
}

#[test]
fn rare_tags_drive_the_query_and_common_ones_stay_a_probe() {
    let q = search("tags IN ['a'] AND (size > 10 OR tags IN ['b', 'c']) AND tags NOT IN ['d']");
    assert_eq!(positive_tags(&q), ["a", "b", "c"]);
    let legacy = ListQuery {
        tags: Some(vec!["x".into(), "y".into()]),
        ..ListQuery::default()
    };
    assert_eq!(positive_tags(&legacy), ["x", "y"]);
    assert!(positive_tags(&search("size > 1")).is_empty());

    let common = compile_with(&q, "acc", Dialect::Sqlite, Hints::default());
    let rare = compile_with(&q, "acc", Dialect::Sqlite, Hints { rare_tags: true });
    assert!(common.text.contains("+f.current_version_id IN (SELECT"));
    assert!(
        !rare.text.contains("+f.current_version_id"),
        "{}",
        rare.text
    );
    assert!(rare.text.contains(" f.current_version_id IN (SELECT"));
    // Only the shape changes: the same values, bound in the same order.
    assert_eq!(common.binds, rare.binds);
    aligned(&rare, Dialect::Sqlite);
}

#[test]
fn fractional_bounds_become_integer_comparisons() {
    let text = |q: &str| compile(&search(q), "a", Dialect::Postgres);
    let s = text("size < '1.3kb'");
    assert!(s.text.contains("v.size <= $2"), "{}", s.text);
    assert_eq!(s.binds[1], Bind::Int(1331));
    let s = text("size > 10.5");
    assert!(s.text.contains("v.size >= $2"));
    assert_eq!(s.binds[1], Bind::Int(11));
    // `= 10.5` cannot hold: the branch, then the statement, is empty.
    let s = text("size = 10.5");
    assert!(s.text.contains("WHERE 1 = 0"), "{}", s.text);
    aligned(&s, Dialect::Postgres);
    let s = text("width NOT = 3");
    assert!(
        s.text.contains("(v.width IS NULL OR v.width <> $2)"),
        "{}",
        s.text
    );
}

#[test]
fn type_conditions_pick_branches() {
    let lite = compile(&search("type = 'folder'"), "a", Dialect::Sqlite);
    assert!(
        lite.text.starts_with("SELECT 'folder' AS kind"),
        "{}",
        lite.text
    );
    assert!(!lite.text.contains("UNION"));
    let lite = compile(
        &search("type IN ['file', 'file-version'] AND size > 1"),
        "a",
        Dialect::Sqlite,
    );
    assert!(lite.text.contains("'file-version' AS kind"));
    assert!(!lite.text.contains("'folder' AS kind"));
    aligned(&lite, Dialect::Sqlite);
    // A field folders lack drops them even when includeFolder asks for them.
    let q = ListQuery {
        include_folder: true,
        ..search("size > 1")
    };
    assert!(!compile(&q, "a", Dialect::Sqlite).text.contains("'folder'"));
    let q = ListQuery {
        include_folder: true,
        ..search("name = 'x' OR size > 1")
    };
    let both_kinds = compile(&q, "a", Dialect::Postgres);
    assert!(
        both_kinds.text.contains("d.name = $"),
        "{}",
        both_kinds.text
    );
    aligned(&both_kinds, Dialect::Postgres);
}

#[test]
fn dates_compare_in_milliseconds() {
    let s = compile(
        &search("createdAt >= '2024-01-01' AND updatedAt < '1d'"),
        "a",
        Dialect::Sqlite,
    );
    assert!(
        s.text
            .contains("(f.account_id = ? AND (f.created_at >= ? AND f.updated_at < ?))"),
        "{}",
        s.text
    );
    assert_eq!(s.binds[1], Bind::Int(1_704_067_200_000));
    assert_eq!(s.binds[2], Bind::Int(NOW - 86_400_000));
}

#[test]
fn metadata_members_are_matched_by_bound_key() {
    let (lite, pg) = both(&search(
        "\"customMetadata.price\" > 10 AND 'embeddedMetadata.Keywords' IN ['x']",
    ));
    assert!(
        lite.text
            .contains("EXISTS (SELECT 1 FROM json_each(v.custom_metadata) j WHERE j.key = ?"),
        "{}",
        lite.text
    );
    assert!(
        pg.text
            .contains("jsonb_each(v.custom_metadata::jsonb) j WHERE j.key = $2"),
        "{}",
        pg.text
    );
    assert!(lite.binds.contains(&Bind::Text("price".into())));
    aligned(&lite, Dialect::Sqlite);
    aligned(&pg, Dialect::Postgres);
    let (lite, _) = both(&search("\"customMetadata.price\" NOT = 10"));
    assert!(lite
        .text
        .contains("NOT EXISTS (SELECT 1 FROM json_each(v.custom_metadata)"));
}

#[test]
fn has_matches_words() {
    let (lite, pg) = both(&search("name HAS 'red car'"));
    assert!(lite.binds.contains(&Bind::Text("% red %".into())));
    assert!(lite.binds.contains(&Bind::Text("% car%".into())));
    assert!(pg.text.contains("regexp_replace(lower(f.name)"));
}

#[test]
fn values_of_folded_conditions_are_not_bound() {
    // For folders `tags EXISTS` is false, so `id = 'x'` beside it folds away with its value.
    let q = ListQuery {
        include_folder: true,
        ..search("(tags EXISTS AND id = 'x') OR name = 'y'")
    };
    let (lite, pg) = both(&q);
    aligned(&lite, Dialect::Sqlite);
    aligned(&pg, Dialect::Postgres);
    let folder_branch = &lite.text[lite.text.find("'folder' AS kind").expect("folders")..];
    assert!(!folder_branch.contains("folder_id = ?"), "{folder_branch}");
    assert_eq!(
        lite.binds,
        [
            Bind::Text("acc".into()),
            Bind::Text("x".into()),
            Bind::Text("y".into()),
            Bind::Text("acc".into()),
            Bind::Text("y".into()),
            Bind::Int(1000),
            Bind::Int(0)
        ]
    );
}
