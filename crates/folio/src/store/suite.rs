//! One behavioural suite for every [`Catalog`] implementation.
//!
//! Each scenario is written once, against `Arc<dyn Catalog>`, and the [`suite!`] macro runs it
//! against a fresh SQLite file and against a fresh schema of the machine's PostgreSQL
//! (`FOLIO_TEST_PG_URL`, default [`super::testing::DEFAULT_PG_URL`]). A backend that passes
//! here behaves like the other one as far as the upload pipeline can tell.

use std::sync::Arc;

use futures_util::future::join_all;

use super::{
    Catalog, CommitOutcome, CopiedVersion, CopyOutcome, CustomField, DeleteOutcome, EditOutcome,
    EditScope, FieldWrite, FolderTarget, MediaInfo, MoveOutcome, NewCopy, NewUpload, Outbox,
    RenameOutcome, RestoreOutcome, StoredVersion, Usage, VersionDelete,
};
use crate::config::Config;
use crate::store::postgres::{Migrate, PgCatalog};
use crate::store::sqlite::SqliteCatalog;
use crate::store::testing::TestSchema;

/// Keeps whatever backs a catalog alive for the length of a test.
enum Backing {
    Dir(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Schema(#[expect(dead_code, reason = "held for its Drop")] TestSchema),
}

async fn sqlite() -> (Arc<dyn Catalog>, Backing) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("folio.db").display());
    let catalog = SqliteCatalog::open(&url, false).await.expect("open sqlite");
    (Arc::new(catalog), Backing::Dir(dir))
}

async fn postgres() -> (Arc<dyn Catalog>, Backing) {
    let schema = TestSchema::create().await.expect(
        "the PostgreSQL suite needs the machine's PostgreSQL (FOLIO_TEST_PG_URL, default \
         postgres://postgres@127.0.0.1:5432/test)",
    );
    let catalog = PgCatalog::open(&schema.url(), &Config::default().postgres, Migrate::Apply)
        .await
        .expect("open postgres");
    (Arc::new(catalog), Backing::Schema(schema))
}

macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let (catalog, backing) = super::sqlite().await;
                    super::$scenario(catalog).await;
                    drop(backing);
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let (catalog, backing) = super::postgres().await;
                    super::$scenario(catalog).await;
                    drop(backing);
                }
            )*
        }
    };
}

suite!(
    bootstrap_creates_one_account_even_when_raced,
    keys_are_created_listed_found_and_revoked,
    a_token_burns_once_even_when_raced,
    expired_ledger_entries_are_purged,
    commit_creates_then_overwrites_with_new_versions,
    path_taken_and_version_cap_are_outcomes,
    unique_names_never_collide,
    concurrent_overwrites_number_versions_without_gaps,
    blobs_are_referenced_only_by_committed_versions,
    custom_fields_keep_names_reserved_and_live_labels_unique,
    custom_metadata_defaults_fill_what_the_merge_left_empty,
    ai_tags_are_set_on_one_version_and_kept_by_an_overwrite_that_asks,
    list_and_search_run_in_the_database,
    files_and_versions_are_found_by_id_within_their_account,
    edits_are_all_or_nothing,
    deletes_remove_rows_and_report_blobs,
    restore_makes_an_old_version_current_again,
    copies_create_files_or_append_versions,
    moves_and_renames_keep_ids_and_refuse_taken_names,
    deletes_racing_overwrites_leave_no_row_without_blob,
    restores_racing_overwrites_stay_consistent,
    renames_racing_creations_of_the_target_never_share_a_path,
    jobs_are_claimed_once_leased_checkpointed_and_resumed,
    files_and_folders_under_a_prefix_compare_bytewise,
    a_folder_of_10000_files_is_deleted_in_batches,
    events_exist_exactly_when_their_change_committed,
    deliveries_are_claimed_once_leased_retried_and_finished,
    rate_counts_and_usage_are_counted,
    accounts_are_created_listed_and_disabled,
    file_sequences_are_paged_and_counters_only_rise,
    console_sessions_are_found_taken_once_and_purged,
);

fn upload(account_id: &str, name: &str) -> NewUpload {
    let version_id = crate::ids::object_id();
    NewUpload {
        account_id: account_id.to_owned(),
        blob_key: crate::store::blob::blob_key(&version_id),
        version_id,
        folder_path: "/a/b/".to_owned(),
        folder_ancestors: vec!["/a/".to_owned(), "/a/b/".to_owned()],
        base_name: name.to_owned(),
        proposed_name: None,
        use_unique_file_name: false,
        overwrite_file: true,
        overwrite_tags: false,
        overwrite_ai_tags: false,
        overwrite_custom_metadata: false,
        tags: None,
        custom_metadata: None,
        custom_metadata_defaults: Default::default(),
        custom_coordinates: None,
        is_private_file: false,
        is_published: true,
        description: None,
        size: 1234,
        media: MediaInfo {
            mime: "image/jpeg".to_owned(),
            file_type: "image".to_owned(),
            width: Some(3),
            height: Some(2),
            ..MediaInfo::default()
        },
        max_versions: 100,
        outbox: Outbox::none(),
    }
}

fn committed(outcome: CommitOutcome) -> StoredVersion {
    match outcome {
        CommitOutcome::Committed(v) => *v,
        other => panic!("expected a commit, got {other:?}"),
    }
}

async fn account(catalog: &Arc<dyn Catalog>) -> String {
    let key = catalog
        .bootstrap()
        .await
        .expect("bootstrap")
        .expect("fresh");
    key.account_id
}

async fn bootstrap_creates_one_account_even_when_raced(catalog: Arc<dyn Catalog>) {
    let created = join_all((0..6).map(|_| {
        let c = Arc::clone(&catalog);
        tokio::spawn(async move { c.bootstrap().await.expect("bootstrap") })
    }))
    .await;
    let keys: Vec<_> = created
        .into_iter()
        .filter_map(|r| r.expect("join"))
        .collect();
    assert_eq!(keys.len(), 1, "exactly one bootstrap creates the account");
    assert!(catalog.bootstrap().await.expect("again").is_none());
    let account = catalog
        .account_by_url_id("default")
        .await
        .expect("lookup")
        .expect("default account");
    assert_eq!(account.id, keys[0].account_id);
    assert!(!account.disabled);
    assert_eq!(catalog.list_keys().await.expect("list").len(), 1);
}

async fn keys_are_created_listed_found_and_revoked(catalog: Arc<dyn Catalog>) {
    let first = catalog
        .bootstrap()
        .await
        .expect("bootstrap")
        .expect("fresh");
    let second = catalog.create_key(None, None).await.expect("create");
    let third = catalog
        .create_key(Some(&first.account_id), None)
        .await
        .expect("create for account");
    assert!(catalog.create_key(Some("nope"), None).await.is_err());
    let imported = catalog
        .import_key("public_imported", "private_imported")
        .await
        .expect("import");
    assert_eq!(imported.account_id, first.account_id);

    let listed: Vec<String> = catalog
        .list_keys()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.public_key)
        .collect();
    for key in [&first, &second, &third, &imported] {
        assert!(listed.contains(&key.public_key), "{listed:?}");
    }

    let found = catalog
        .key_by_private(&second.private_key)
        .await
        .expect("by private")
        .expect("found");
    assert_eq!(found.key.public_key, second.public_key);
    assert_eq!(found.account.url_id, "default");
    assert!(catalog
        .key_by_private("private_unknown")
        .await
        .expect("by private")
        .is_none());
    let found = catalog
        .key_by_public("public_imported")
        .await
        .expect("by public")
        .expect("found");
    assert_eq!(found.key.private_key, "private_imported");
    assert!(!found.key.revoked);

    assert!(catalog
        .revoke_key(&second.public_key)
        .await
        .expect("revoke"));
    assert!(!catalog.revoke_key(&second.public_key).await.expect("again"));
    assert!(!catalog.revoke_key("public_unknown").await.expect("unknown"));
    let revoked = catalog
        .key_by_public(&second.public_key)
        .await
        .expect("by public")
        .expect("still there");
    assert!(revoked.key.revoked);
    // An account's keys, oldest first, the revoked one included and marked.
    let own = catalog
        .account_keys(&first.account_id)
        .await
        .expect("account keys");
    let own_public: Vec<&str> = own.iter().map(|k| k.public_key.as_str()).collect();
    assert_eq!(own.len(), 4, "{own_public:?}");
    for key in [&first, &second, &third, &imported] {
        assert!(
            own_public.contains(&key.public_key.as_str()),
            "{own_public:?}"
        );
    }
    assert!(own
        .windows(2)
        .all(|w| w[0].created_at_ms <= w[1].created_at_ms));
    let live: Vec<&str> = own
        .iter()
        .filter(|k| k.is_live(0))
        .map(|k| k.public_key.as_str())
        .collect();
    assert!(!live.contains(&second.public_key.as_str()), "{live:?}");
    assert_eq!(live.len(), 3, "{live:?}");
    assert_eq!(
        own.iter()
            .find(|k| k.private_key == "private_imported")
            .map(|k| k.public_key.as_str()),
        Some("public_imported")
    );
    assert!(catalog
        .account_keys("no-such-account")
        .await
        .expect("account keys")
        .is_empty());
    assert!(catalog
        .account_by_url_id("elsewhere")
        .await
        .expect("lookup")
        .is_none());
    catalog.ping().await.expect("ping");
}

async fn a_token_burns_once_even_when_raced(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let hash = [7u8; 32];
    let exp = crate::ids::now_secs() + 600;
    let results = join_all((0..32).map(|_| {
        let c = Arc::clone(&catalog);
        let account = account.clone();
        tokio::spawn(async move { c.burn_token(&account, &hash, exp).await.expect("burn") })
    }))
    .await;
    let fresh = results
        .into_iter()
        .filter(|r| *r.as_ref().expect("join"))
        .count();
    assert_eq!(fresh, 1, "exactly one of 32 concurrent burns wins");
    assert!(!catalog
        .burn_token(&account, &hash, exp)
        .await
        .expect("burn"));
    // the ledger is per account
    assert!(catalog.burn_token("other", &hash, exp).await.expect("burn"));
    assert!(catalog
        .burn_token(&account, &[8u8; 32], exp)
        .await
        .expect("burn"));
}

async fn expired_ledger_entries_are_purged(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let now = 1_800_000_000;
    for i in 0..10u8 {
        let exp = if i < 6 { now - 1 } else { now + 60 };
        assert!(catalog
            .burn_token(&account, &[i; 32], exp)
            .await
            .expect("burn"));
    }
    assert_eq!(catalog.purge_burned_tokens(now).await.expect("purge"), 6);
    assert_eq!(catalog.purge_burned_tokens(now).await.expect("purge"), 0);
    // live entries stay burned; purged ones are gone (their tokens fail the time checks)
    assert!(!catalog
        .burn_token(&account, &[9; 32], now + 60)
        .await
        .expect("burn"));
    assert!(catalog
        .burn_token(&account, &[0; 32], now + 60)
        .await
        .expect("burn"));
}

async fn commit_creates_then_overwrites_with_new_versions(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let mut first = upload(&account, "photo.jpg");
    first.tags = Some(vec!["a".into(), "b".into()]);
    first.custom_metadata = Some(serde_json::Map::from_iter([
        ("zeta".to_owned(), serde_json::json!(1)),
        ("alpha".to_owned(), serde_json::json!("x")),
    ]));
    first.description = Some("first".into());
    let v1 = committed(catalog.commit_upload(&first).await.expect("commit"));
    assert_eq!(v1.version_number, 1);
    assert_eq!(v1.file_id, first.version_id);
    assert_eq!(v1.file_path, "/a/b/photo.jpg");
    assert_eq!(v1.name, "photo.jpg");

    let current = catalog
        .current_by_path(&account, "/a/b/photo.jpg")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(current.version_id, first.version_id);
    assert_eq!(current.tags, Some(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(current.custom_metadata, v1.custom_metadata);
    assert_eq!(current.media, first.media);
    assert_eq!(current.size, 1234);
    assert_eq!(current.description.as_deref(), Some("first"));
    assert!(current.is_published && !current.is_private_file);

    // An overwrite without tags keeps the previous ones; with overwriteTags it clears them.
    let second = upload(&account, "photo.jpg");
    let v2 = committed(catalog.commit_upload(&second).await.expect("commit"));
    assert_eq!(
        (v2.file_id.as_str(), v2.version_number),
        (v1.file_id.as_str(), 2)
    );
    assert_eq!(v2.tags, v1.tags);
    assert_eq!(v2.custom_metadata, v1.custom_metadata);
    let mut third = upload(&account, "photo.jpg");
    third.overwrite_tags = true;
    third.overwrite_custom_metadata = true;
    let v3 = committed(catalog.commit_upload(&third).await.expect("commit"));
    assert_eq!(v3.version_number, 3);
    assert_eq!(v3.tags, None);
    assert!(v3.custom_metadata.is_empty());

    let current = catalog
        .current_by_path(&account, "/a/b/photo.jpg")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(current.version_id, third.version_id);
    assert_eq!(current.version_number, 3);
    assert!(catalog
        .current_by_path(&account, "/a/b/other.jpg")
        .await
        .expect("lookup")
        .is_none());
    assert!(catalog
        .current_by_path("another-account", "/a/b/photo.jpg")
        .await
        .expect("lookup")
        .is_none());
}

async fn path_taken_and_version_cap_are_outcomes(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    committed(
        catalog
            .commit_upload(&upload(&account, "x.bin"))
            .await
            .expect("commit"),
    );
    let mut keep = upload(&account, "x.bin");
    keep.overwrite_file = false;
    assert!(matches!(
        catalog.commit_upload(&keep).await.expect("commit"),
        CommitOutcome::PathTaken
    ));
    // nothing of the refused commit is left
    assert!(!catalog
        .blob_is_referenced(&keep.blob_key)
        .await
        .expect("ref"));

    for n in 2..=3 {
        let mut up = upload(&account, "x.bin");
        up.max_versions = 3;
        assert_eq!(
            committed(catalog.commit_upload(&up).await.expect("commit")).version_number,
            n
        );
    }
    let mut over = upload(&account, "x.bin");
    over.max_versions = 3;
    assert!(matches!(
        catalog.commit_upload(&over).await.expect("commit"),
        CommitOutcome::TooManyVersions
    ));
    assert!(!catalog
        .blob_is_referenced(&over.blob_key)
        .await
        .expect("ref"));
    assert_eq!(
        catalog
            .current_by_path(&account, "/a/b/x.bin")
            .await
            .expect("lookup")
            .expect("exists")
            .version_number,
        3
    );
}

async fn unique_names_never_collide(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let results = join_all((0..12).map(|_| {
        let c = Arc::clone(&catalog);
        let mut up = upload(&account, "same.png");
        up.use_unique_file_name = true;
        tokio::spawn(async move { c.commit_upload(&up).await.expect("commit") })
    }))
    .await;
    let mut paths: Vec<String> = results
        .into_iter()
        .map(|r| committed(r.expect("join")))
        .inspect(|v| {
            assert_eq!(v.version_number, 1);
            assert!(
                v.name.starts_with("same_") && v.name.ends_with(".png"),
                "{}",
                v.name
            );
        })
        .map(|v| v.file_path)
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 12);
}

async fn concurrent_overwrites_number_versions_without_gaps(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    // All start before the file exists: the race to create it is part of the test.
    let results = join_all((0..24).map(|_| {
        let c = Arc::clone(&catalog);
        let up = upload(&account, "hot.txt");
        tokio::spawn(async move { committed(c.commit_upload(&up).await.expect("commit")) })
    }))
    .await;
    let versions: Vec<StoredVersion> = results.into_iter().map(|r| r.expect("join")).collect();
    let file_ids: std::collections::BTreeSet<_> =
        versions.iter().map(|v| v.file_id.clone()).collect();
    assert_eq!(file_ids.len(), 1, "one file, however the race went");
    let mut numbers: Vec<u32> = versions.iter().map(|v| v.version_number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=24).collect::<Vec<u32>>());
    let current = catalog
        .current_by_path(&account, "/a/b/hot.txt")
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(current.version_number, 24);
}

async fn blobs_are_referenced_only_by_committed_versions(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let up = upload(&account, "r.bin");
    assert!(!catalog.blob_is_referenced(&up.blob_key).await.expect("ref"));
    committed(catalog.commit_upload(&up).await.expect("commit"));
    assert!(catalog.blob_is_referenced(&up.blob_key).await.expect("ref"));
    let next = upload(&account, "r.bin");
    committed(catalog.commit_upload(&next).await.expect("commit"));
    // an old version still points at its blob
    assert!(catalog.blob_is_referenced(&up.blob_key).await.expect("ref"));
    assert!(catalog
        .blob_is_referenced(&next.blob_key)
        .await
        .expect("ref"));
    assert!(!catalog
        .blob_is_referenced("v/00/00/000000000000000000000000")
        .await
        .expect("ref"));
}

fn field(account_id: &str, name: &str, label: &str) -> CustomField {
    CustomField {
        id: crate::ids::object_id(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        label: label.to_owned(),
        description: None,
        schema: serde_json::json!({"type": "Number", "minValue": 1}),
        deleted: false,
        created_at_ms: crate::ids::now_millis(),
    }
}

async fn custom_fields_keep_names_reserved_and_live_labels_unique(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let price = field(&account, "price", "Price");
    assert_eq!(
        catalog.create_custom_field(&price).await.expect("create"),
        FieldWrite::Done(price.clone())
    );
    let mut color = field(&account, "color", "Color");
    color.description = Some("paint".to_owned());
    color.created_at_ms = price.created_at_ms + 1;
    assert!(matches!(
        catalog.create_custom_field(&color).await.expect("create"),
        FieldWrite::Done(_)
    ));
    assert_eq!(
        catalog
            .create_custom_field(&field(&account, "price", "Other"))
            .await
            .expect("create"),
        FieldWrite::NameTaken
    );
    assert_eq!(
        catalog
            .create_custom_field(&field(&account, "cost", "Price"))
            .await
            .expect("create"),
        FieldWrite::LabelTaken
    );
    let live = catalog.custom_fields(&account, false).await.expect("list");
    assert_eq!(live, vec![price.clone(), color.clone()]);

    // Update: label and schema; a live label cannot be taken.
    let schema = serde_json::json!({"type": "Number", "maxValue": 9});
    let updated = match catalog
        .update_custom_field(&account, &price.id, Some("Cost"), Some(&schema))
        .await
        .expect("update")
    {
        FieldWrite::Done(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!((updated.label.as_str(), &updated.schema), ("Cost", &schema));
    assert_eq!(
        catalog
            .custom_field(&account, &price.id)
            .await
            .expect("get"),
        Some(updated.clone())
    );
    assert_eq!(
        catalog
            .update_custom_field(&account, &price.id, Some("Color"), None)
            .await
            .expect("update"),
        FieldWrite::LabelTaken
    );
    assert_eq!(
        catalog
            .update_custom_field(&account, &crate::ids::object_id(), Some("x"), None)
            .await
            .expect("update"),
        FieldWrite::NotFound
    );

    // Delete: the name stays reserved, the label is free again.
    assert!(catalog
        .delete_custom_field(&account, &color.id)
        .await
        .expect("delete"));
    assert!(!catalog
        .delete_custom_field(&account, &color.id)
        .await
        .expect("delete again"));
    assert_eq!(
        catalog
            .update_custom_field(&account, &color.id, Some("y"), None)
            .await
            .expect("update"),
        FieldWrite::Deleted
    );
    assert_eq!(
        catalog
            .create_custom_field(&field(&account, "color", "Paint"))
            .await
            .expect("create"),
        FieldWrite::NameTaken
    );
    assert!(matches!(
        catalog
            .create_custom_field(&field(&account, "colour", "Color"))
            .await
            .expect("create"),
        FieldWrite::Done(_)
    ));
    let live = catalog.custom_fields(&account, false).await.expect("list");
    assert_eq!(
        live.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["price", "colour"]
    );
    let all = catalog.custom_fields(&account, true).await.expect("list");
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|f| f.name == "color" && f.deleted));
    // Another account sees nothing.
    assert!(catalog
        .custom_fields("someone-else", true)
        .await
        .expect("list")
        .is_empty());
}

async fn custom_metadata_defaults_fill_what_the_merge_left_empty(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let defaults: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"tier": "basic", "stock": 0})).expect("map");
    let mut first = upload(&account, "m.jpg");
    first.custom_metadata = Some(
        serde_json::from_value(serde_json::json!({"brand": "Nike", "tier": "gold"})).expect("map"),
    );
    first.custom_metadata_defaults = defaults.clone();
    let v1 = committed(catalog.commit_upload(&first).await.expect("commit"));
    assert_eq!(
        serde_json::Value::Object(v1.custom_metadata),
        serde_json::json!({"brand": "Nike", "tier": "gold", "stock": 0})
    );
    // overwriteCustomMetadata=false without values: the previous ones, then defaults.
    let mut second = upload(&account, "m.jpg");
    second.overwrite_custom_metadata = false;
    second.custom_metadata_defaults =
        serde_json::from_value(serde_json::json!({"tier": "basic", "stock": 0, "new": true}))
            .expect("map");
    let v2 = committed(catalog.commit_upload(&second).await.expect("commit"));
    assert_eq!(
        serde_json::Value::Object(v2.custom_metadata),
        serde_json::json!({"brand": "Nike", "tier": "gold", "stock": 0, "new": true})
    );
    // overwriteCustomMetadata=true without values: only the defaults.
    let mut third = upload(&account, "m.jpg");
    third.overwrite_custom_metadata = true;
    third.custom_metadata_defaults = defaults;
    let v3 = committed(catalog.commit_upload(&third).await.expect("commit"));
    assert_eq!(
        serde_json::Value::Object(v3.custom_metadata),
        serde_json::json!({"tier": "basic", "stock": 0})
    );
}

async fn ai_tags_are_set_on_one_version_and_kept_by_an_overwrite_that_asks(
    catalog: Arc<dyn Catalog>,
) {
    let account_id = account(&catalog).await;
    let first = committed(
        catalog
            .commit_upload(&upload(&account_id, "tagged.jpg"))
            .await
            .expect("commit"),
    );
    assert_eq!(first.ai_tags, None);
    let tags =
        serde_json::json!([{"name": "cat", "confidence": 91.5, "source": "google-auto-tagging"}]);
    assert!(catalog
        .set_ai_tags(&first.version_id, &tags)
        .await
        .expect("set"));
    assert!(!catalog
        .set_ai_tags("no-such-version", &tags)
        .await
        .expect("set"));
    let current = catalog
        .current_by_path(&account_id, &first.file_path)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(current.ai_tags.as_ref(), Some(&tags));
    // overwriteAITags=false (the helper's setting) carries them to the next version.
    let second = committed(
        catalog
            .commit_upload(&upload(&account_id, "tagged.jpg"))
            .await
            .expect("commit"),
    );
    assert_eq!(second.version_number, 2);
    assert_eq!(second.ai_tags.as_ref(), Some(&tags));
    // Null clears.
    assert!(catalog
        .set_ai_tags(&second.version_id, &serde_json::Value::Null)
        .await
        .expect("clear"));
    let current = catalog
        .current_by_path(&account_id, &first.file_path)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(current.ai_tags, None);
}

/// `(type, name)` of a list result, in order.
fn listed_names(items: &[super::ListedItem]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            super::ListedItem::File(version) => {
                let marker = if version.is_current { "" } else { "v:" };
                format!("{marker}{}", version.file_path)
            }
            super::ListedItem::Folder(folder) => format!("d:{}", folder.path),
        })
        .collect()
}

async fn list_and_search_run_in_the_database(catalog: Arc<dyn Catalog>) {
    use super::listing::{FileTypeFilter, ListQuery, ListType, Sort, SortKey};
    let account_id = account(&catalog).await;
    let seed = |name: &str, folder: &str, size: u64, width: Option<u32>, format: &str| {
        let mut up = upload(&account_id, name);
        up.folder_path = folder.to_owned();
        up.folder_ancestors = folio_contract::Folder::parse(folder)
            .expect("folder")
            .ancestors()
            .map(|f| f.path())
            .collect();
        up.size = size;
        up.media.width = width;
        up.media.format = Some(format.to_owned());
        if format == "pdf" {
            up.media.file_type = "non-image".to_owned();
            up.media.mime = "application/pdf".to_owned();
            up.media.height = None;
        }
        up
    };
    let mut red = seed("red car.jpg", "/a/b/", 100, Some(10), "jpg");
    red.tags = Some(vec!["red".into(), "car".into()]);
    committed(catalog.commit_upload(&red).await.expect("commit"));
    let mut blue = seed("blue_sky.png", "/a/b/", 2000, Some(300), "png");
    blue.tags = Some(vec!["blue".into()]);
    let blue = committed(catalog.commit_upload(&blue).await.expect("commit"));
    let mut pdf = seed("cv.pdf", "/x/", 5000, None, "pdf");
    pdf.custom_metadata = Some(
        serde_json::json!({"price": 12, "brand": "Acme"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    committed(catalog.commit_upload(&pdf).await.expect("commit"));
    // A second version of the red car: version 1 becomes a file-version (its tags carry over).
    let mut again = seed("red car.jpg", "/a/b/", 150, Some(10), "jpg");
    again.tags = None;
    committed(catalog.commit_upload(&again).await.expect("commit"));
    // AI tags reach version_tags through the update trigger.
    assert!(catalog
        .set_ai_tags(
            &blue.version_id,
            &serde_json::json!([{"name": "sky", "confidence": 90}])
        )
        .await
        .expect("ai tags"));

    let by_name = Sort {
        key: SortKey::Name,
        descending: false,
    };
    let list = |q: ListQuery| {
        let catalog = Arc::clone(&catalog);
        let account_id = account_id.clone();
        async move { listed_names(&catalog.list_files(&account_id, &q).await.expect("list")) }
    };
    let named = |q: ListQuery| ListQuery { sort: by_name, ..q };
    let search = |text: &str| ListQuery {
        sort: by_name,
        search: Some(
            folio_contract::search::parse_search(
                text,
                &|name: &str| match name {
                    "price" => Some(folio_contract::CustomFieldType::Number),
                    "brand" => Some(folio_contract::CustomFieldType::Text),
                    _ => None,
                },
                crate::ids::now_millis(),
            )
            .expect("query"),
        ),
        ..ListQuery::default()
    };

    assert_eq!(
        list(named(ListQuery::default())).await,
        ["/a/b/blue_sky.png", "/x/cv.pdf", "/a/b/red car.jpg"]
    );
    assert_eq!(
        list(named(ListQuery {
            path: Some("/a/b/".into()),
            ..ListQuery::default()
        }))
        .await,
        ["/a/b/blue_sky.png", "/a/b/red car.jpg"]
    );
    assert_eq!(
        list(ListQuery {
            list_type: ListType::FileVersion,
            ..ListQuery::default()
        })
        .await,
        ["v:/a/b/red car.jpg"]
    );
    assert_eq!(
        list(named(ListQuery {
            list_type: ListType::Folder,
            ..ListQuery::default()
        }))
        .await,
        ["d:/a/", "d:/a/b/", "d:/x/"]
    );
    assert_eq!(
        list(named(ListQuery {
            list_type: ListType::All,
            path: Some("/a/".into()),
            ..ListQuery::default()
        }))
        .await,
        ["d:/a/b/"]
    );
    assert_eq!(
        list(named(ListQuery {
            list_type: ListType::All,
            path: Some("/".into()),
            ..ListQuery::default()
        }))
        .await,
        ["d:/a/", "d:/x/"]
    );
    assert_eq!(
        list(ListQuery {
            sort: Sort {
                key: SortKey::Size,
                descending: true
            },
            ..ListQuery::default()
        })
        .await,
        ["/x/cv.pdf", "/a/b/blue_sky.png", "/a/b/red car.jpg"]
    );
    assert_eq!(
        list(ListQuery {
            sort: Sort {
                key: SortKey::Size,
                descending: true
            },
            limit: 1,
            skip: 1,
            ..ListQuery::default()
        })
        .await,
        ["/a/b/blue_sky.png"]
    );
    assert_eq!(
        list(named(ListQuery {
            file_type: FileTypeFilter::NonImage,
            ..ListQuery::default()
        }))
        .await,
        ["/x/cv.pdf"]
    );
    assert_eq!(
        list(named(ListQuery {
            tags: Some(vec!["car".into(), "sky".into()]),
            ..ListQuery::default()
        }))
        .await,
        ["/a/b/blue_sky.png", "/a/b/red car.jpg"]
    );
    assert_eq!(
        list(named(ListQuery {
            name: Some("cv.pdf".into()),
            ..ListQuery::default()
        }))
        .await,
        ["/x/cv.pdf"]
    );

    for (query, wanted) in [
        ("tags IN ['sky']", vec!["/a/b/blue_sky.png"]),
        ("tags IN ['red']", vec!["/a/b/red car.jpg"]),
        ("tags NOT IN ['red', 'blue']", vec!["/x/cv.pdf"]),
        ("tags EXISTS", vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"]),
        ("tags NOT EXISTS", vec!["/x/cv.pdf"]),
        ("name : 'blue'", vec!["/a/b/blue_sky.png"]),
        (
            "name = 'cv.pdf' OR name IN ['red car.jpg']",
            vec!["/x/cv.pdf", "/a/b/red car.jpg"],
        ),
        (
            "name NOT = 'cv.pdf'",
            vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"],
        ),
        ("name HAS 'SKY'", vec!["/a/b/blue_sky.png"]),
        ("name HAS 'red ca'", vec!["/a/b/red car.jpg"]),
        ("name HAS 'ed'", vec![]),
        ("size >= '1kb' AND size < 5000", vec!["/a/b/blue_sky.png"]),
        ("size > '4.5kb'", vec!["/x/cv.pdf"]),
        ("width > 100", vec!["/a/b/blue_sky.png"]),
        ("width NOT = 10", vec!["/a/b/blue_sky.png", "/x/cv.pdf"]),
        ("width NOT EXISTS", vec!["/x/cv.pdf"]),
        (
            "format IN ['png', 'pdf']",
            vec!["/a/b/blue_sky.png", "/x/cv.pdf"],
        ),
        ("format = 'jpg'", vec!["/a/b/red car.jpg"]),
        (
            "path = '/a/b'",
            vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"],
        ),
        ("path : '/a'", vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"]),
        ("path NOT IN ['/a/b/']", vec!["/x/cv.pdf"]),
        (
            "private = false AND published = true",
            vec!["/a/b/blue_sky.png", "/x/cv.pdf", "/a/b/red car.jpg"],
        ),
        ("private = true", vec![]),
        ("\"customMetadata.price\" > 10", vec!["/x/cv.pdf"]),
        ("\"customMetadata.price\" IN [12, 13]", vec!["/x/cv.pdf"]),
        (
            "\"customMetadata.price\" NOT = 12",
            vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"],
        ),
        ("\"customMetadata.brand\" : 'Ac'", vec!["/x/cv.pdf"]),
        ("\"customMetadata.brand\" EXISTS", vec!["/x/cv.pdf"]),
        (
            "createdAt > '1d' AND updatedAt <= '2999-01-01'",
            vec!["/a/b/blue_sky.png", "/x/cv.pdf", "/a/b/red car.jpg"],
        ),
        ("createdAt < '2000-01-01'", vec![]),
        ("type = 'file-version'", vec!["v:/a/b/red car.jpg"]),
        ("type = 'folder' AND name : 'b'", vec!["d:/a/b/"]),
        (
            "type IN ['file', 'folder'] AND path = '/'",
            vec!["d:/a/", "d:/x/"],
        ),
        (
            "(size < 200 OR tags IN ['blue']) AND path = '/a/b/'",
            vec!["/a/b/blue_sky.png", "/a/b/red car.jpg"],
        ),
        (
            "size < 200 OR tags IN ['blue'] AND path = '/x/'",
            vec!["/a/b/red car.jpg"],
        ),
    ] {
        assert_eq!(list(search(query)).await, wanted, "{query}");
    }
}

// ---- The media management API's catalog operations (media-api §2). ----

/// Every version of a file: contiguous invariants the media API relies on.
async fn assert_consistent(catalog: &Arc<dyn Catalog>, account: &str, file_id: &str) {
    let versions = catalog
        .file_versions(account, file_id)
        .await
        .expect("versions")
        .expect("file exists");
    assert_eq!(
        versions.iter().filter(|v| v.is_current).count(),
        1,
        "exactly one current version"
    );
    let mut numbers: Vec<u32> = versions.iter().map(|v| v.version_number).collect();
    let sorted = {
        let mut s = numbers.clone();
        s.sort_unstable_by(|a, b| b.cmp(a));
        s
    };
    assert_eq!(numbers, sorted, "newest first");
    numbers.dedup();
    assert_eq!(numbers.len(), versions.len(), "no number twice");
}

async fn files_and_versions_are_found_by_id_within_their_account(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let v1 = committed(
        catalog
            .commit_upload(&upload(&account, "x.jpg"))
            .await
            .expect("c"),
    );
    let v2 = committed(
        catalog
            .commit_upload(&upload(&account, "x.jpg"))
            .await
            .expect("c"),
    );
    let current = catalog
        .file_by_id(&account, &v1.file_id)
        .await
        .expect("by id")
        .expect("found");
    assert_eq!(current.version_id, v2.version_id);
    assert!(current.is_current);
    assert_eq!(current.file_created_at_ms, v1.created_at_ms);
    assert!(catalog
        .file_by_id("other-account", &v1.file_id)
        .await
        .expect("by id")
        .is_none());
    let versions = catalog
        .file_versions(&account, &v1.file_id)
        .await
        .expect("versions")
        .expect("found");
    let ids: Vec<&str> = versions.iter().map(|v| v.version_id.as_str()).collect();
    assert_eq!(ids, [v2.version_id.as_str(), v1.version_id.as_str()]);
    assert!(!versions[1].is_current);
    let old = catalog
        .version_by_id(&account, &v1.file_id, &v1.version_id)
        .await
        .expect("version")
        .expect("found");
    assert!(!old.is_current);
    assert_eq!(old.version_number, 1);
    assert!(catalog
        .version_by_id(&account, &v1.file_id, "nope")
        .await
        .expect("version")
        .is_none());
    assert!(catalog
        .file_versions(&account, "nope")
        .await
        .expect("versions")
        .is_none());
    assert!(catalog
        .version_exists(&v1.version_id)
        .await
        .expect("exists"));
    let folder = catalog
        .folder_by_path(&account, "/a/b/")
        .await
        .expect("folder")
        .expect("made by the upload");
    assert_eq!(folder.path, "/a/b/");
    assert!(catalog
        .folder_by_path(&account, "/zzz/")
        .await
        .expect("folder")
        .is_none());
}

async fn edits_are_all_or_nothing(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let a = committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("c"),
    );
    let b = committed(
        catalog
            .commit_upload(&upload(&account, "b.jpg"))
            .await
            .expect("c"),
    );
    let ids = vec![
        a.file_id.clone(),
        b.file_id.clone(),
        "65a000000000000000000000".into(),
    ];
    let tag = |v: &mut StoredVersion| {
        v.tags = Some(vec!["x".into()]);
        Ok(())
    };
    match catalog
        .edit_versions(&account, &ids, EditScope::Current, &tag, &Outbox::none())
        .await
        .expect("edit")
    {
        EditOutcome::Missing(missing) => assert_eq!(missing, ["65a000000000000000000000"]),
        other => panic!("{other:?}"),
    }
    let untouched = catalog
        .file_by_id(&account, &a.file_id)
        .await
        .expect("a")
        .expect("a");
    assert_eq!(untouched.tags, None, "nothing changed");

    // A refusal on the second file undoes the first.
    let refuse_b = |v: &mut StoredVersion| {
        if v.name == "b.jpg" {
            return Err([("k".to_owned(), "no".to_owned())].into());
        }
        v.tags = Some(vec!["x".into()]);
        Ok(())
    };
    assert!(matches!(
        catalog
            .edit_versions(
                &account,
                &ids[..2],
                EditScope::Current,
                &refuse_b,
                &Outbox::none()
            )
            .await
            .expect("edit"),
        EditOutcome::Invalid(_)
    ));
    let untouched = catalog
        .file_by_id(&account, &a.file_id)
        .await
        .expect("a")
        .expect("a");
    assert_eq!(untouched.tags, None, "nothing changed");

    let done = match catalog
        .edit_versions(
            &account,
            &ids[..2],
            EditScope::Current,
            &tag,
            &Outbox::none(),
        )
        .await
        .expect("edit")
    {
        EditOutcome::Done(done) => done,
        other => panic!("{other:?}"),
    };
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|v| v.tags == Some(vec!["x".to_owned()])));
    assert!(done[0].updated_at_ms >= done[0].created_at_ms);

    // Publishing every version reaches the old ones too; the current-only scope does not.
    let a2 = committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("c"),
    );
    let unpublish = |v: &mut StoredVersion| {
        v.is_published = false;
        Ok(())
    };
    catalog
        .edit_versions(
            &account,
            std::slice::from_ref(&a.file_id),
            EditScope::Current,
            &unpublish,
            &Outbox::none(),
        )
        .await
        .expect("edit");
    let versions = catalog
        .file_versions(&account, &a.file_id)
        .await
        .expect("v")
        .expect("v");
    assert_eq!(
        versions.iter().map(|v| v.is_published).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(versions[0].version_id, a2.version_id);
    catalog
        .edit_versions(
            &account,
            std::slice::from_ref(&a.file_id),
            EditScope::AllVersions,
            &unpublish,
            &Outbox::none(),
        )
        .await
        .expect("edit");
    let versions = catalog
        .file_versions(&account, &a.file_id)
        .await
        .expect("v")
        .expect("v");
    assert!(versions.iter().all(|v| !v.is_published));
}

async fn deletes_remove_rows_and_report_blobs(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let a1 = committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("c"),
    );
    let a2 = committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("c"),
    );
    let b = committed(
        catalog
            .commit_upload(&upload(&account, "b.jpg"))
            .await
            .expect("c"),
    );

    // Versions: the current one stays; an old one goes.
    assert!(matches!(
        catalog
            .delete_version(&account, &a1.file_id, &a2.version_id, &Outbox::none())
            .await
            .expect("delete"),
        VersionDelete::Current
    ));
    assert!(matches!(
        catalog
            .delete_version(&account, &a1.file_id, &b.version_id, &Outbox::none())
            .await
            .expect("delete"),
        VersionDelete::NoVersion
    ));
    assert!(matches!(
        catalog
            .delete_version(
                &account,
                "65a000000000000000000000",
                &a1.version_id,
                &Outbox::none()
            )
            .await
            .expect("delete"),
        VersionDelete::NoFile
    ));
    match catalog
        .delete_version(&account, &a1.file_id, &a1.version_id, &Outbox::none())
        .await
        .expect("delete")
    {
        VersionDelete::Deleted(removed) => assert_eq!(removed.blob_key, a1.blob_key),
        other => panic!("{other:?}"),
    }
    assert!(!catalog.blob_is_referenced(&a1.blob_key).await.expect("ref"));
    assert!(!catalog
        .version_exists(&a1.version_id)
        .await
        .expect("exists"));
    assert_consistent(&catalog, &account, &a1.file_id).await;

    // Files: all or nothing.
    let unknown = "65a000000000000000000000".to_owned();
    match catalog
        .delete_files(
            &account,
            &[a1.file_id.clone(), unknown.clone()],
            &Outbox::none(),
        )
        .await
        .expect("delete")
    {
        DeleteOutcome::Missing(missing) => assert_eq!(missing, [unknown]),
        other => panic!("{other:?}"),
    }
    assert!(catalog
        .file_by_id(&account, &a1.file_id)
        .await
        .expect("a")
        .is_some());
    match catalog
        .delete_files(
            &account,
            &[a1.file_id.clone(), b.file_id.clone(), b.file_id.clone()],
            &Outbox::none(),
        )
        .await
        .expect("delete")
    {
        DeleteOutcome::Deleted(removed) => {
            let mut keys: Vec<String> = removed.into_iter().map(|r| r.blob_key).collect();
            keys.sort();
            let mut want = vec![a2.blob_key.clone(), b.blob_key.clone()];
            want.sort();
            assert_eq!(keys, want);
        }
        other => panic!("{other:?}"),
    }
    for v in [&a2, &b] {
        assert!(!catalog.blob_is_referenced(&v.blob_key).await.expect("ref"));
    }
    assert!(catalog
        .file_by_id(&account, &a1.file_id)
        .await
        .expect("a")
        .is_none());
    assert!(catalog
        .current_by_path(&account, "/a/b/a.jpg")
        .await
        .expect("path")
        .is_none());
    // The path is free for a new file.
    let again = committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("c"),
    );
    assert_eq!(again.version_number, 1);
}

async fn restore_makes_an_old_version_current_again(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let v1 = committed(
        catalog
            .commit_upload(&upload(&account, "r.jpg"))
            .await
            .expect("c"),
    );
    let v2 = committed(
        catalog
            .commit_upload(&upload(&account, "r.jpg"))
            .await
            .expect("c"),
    );
    let restored = match catalog
        .restore_version(&account, &v1.file_id, &v1.version_id, &Outbox::none())
        .await
        .expect("restore")
    {
        RestoreOutcome::Restored(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(restored.version_id, v1.version_id);
    assert_eq!(restored.version_number, 1);
    assert!(restored.is_current);
    let by_path = catalog
        .current_by_path(&account, "/a/b/r.jpg")
        .await
        .expect("path")
        .expect("found");
    assert_eq!(by_path.version_id, v1.version_id);
    // The next upload is number 3, and v2 is now an old version that can be deleted.
    let v3 = committed(
        catalog
            .commit_upload(&upload(&account, "r.jpg"))
            .await
            .expect("c"),
    );
    assert_eq!(v3.version_number, 3);
    assert!(matches!(
        catalog
            .delete_version(&account, &v1.file_id, &v2.version_id, &Outbox::none())
            .await
            .expect("delete"),
        VersionDelete::Deleted(_)
    ));
    assert!(matches!(
        catalog
            .restore_version(&account, &v1.file_id, &v2.version_id, &Outbox::none())
            .await
            .expect("restore"),
        RestoreOutcome::NoVersion
    ));
    assert!(matches!(
        catalog
            .restore_version(
                &account,
                "65a000000000000000000000",
                &v1.version_id,
                &Outbox::none()
            )
            .await
            .expect("restore"),
        RestoreOutcome::NoFile
    ));
    assert_consistent(&catalog, &account, &v1.file_id).await;
}

fn copied(source: &StoredVersion) -> CopiedVersion {
    let version_id = crate::ids::object_id();
    CopiedVersion {
        blob_key: crate::store::blob::blob_key(&version_id),
        version_id,
        source: source.clone(),
    }
}

fn target(path: &str) -> FolderTarget {
    let folder = folio_contract::Folder::parse(path).expect("folder");
    FolderTarget {
        path: folder.path(),
        ancestors: folder.ancestors().map(|f| f.path()).collect(),
    }
}

async fn copies_create_files_or_append_versions(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let mut tagged = upload(&account, "c.jpg");
    tagged.tags = Some(vec!["t".into()]);
    let src1 = committed(catalog.commit_upload(&tagged).await.expect("c"));
    let src2 = committed(
        catalog
            .commit_upload(&upload(&account, "c.jpg"))
            .await
            .expect("c"),
    );
    let copy = NewCopy {
        account_id: account.clone(),
        folder: target("/dest/sub"),
        name: "c.jpg".into(),
        versions: vec![copied(&src1), copied(&src2)],
        max_versions: 100,
    };
    let made = match catalog
        .insert_copy(&copy, &Outbox::none())
        .await
        .expect("copy")
    {
        CopyOutcome::Copied(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(made.file_path, "/dest/sub/c.jpg");
    assert_eq!(made.version_id, copy.versions[1].version_id);
    assert_eq!(made.file_id, copy.versions[0].version_id);
    assert_eq!(made.version_number, 2);
    assert!(catalog
        .folder_by_path(&account, "/dest/")
        .await
        .expect("f")
        .is_some());
    let versions = catalog
        .file_versions(&account, &made.file_id)
        .await
        .expect("v")
        .expect("v");
    assert_eq!(
        versions[1].tags,
        Some(vec!["t".to_owned()]),
        "attributes copied"
    );
    assert!(catalog
        .blob_is_referenced(&copy.versions[0].blob_key)
        .await
        .expect("r"));

    // Onto an existing file: new versions after its last number.
    let again = NewCopy {
        versions: vec![copied(&src2)],
        ..copy.clone()
    };
    let appended = match catalog
        .insert_copy(&again, &Outbox::none())
        .await
        .expect("copy")
    {
        CopyOutcome::Copied(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(appended.file_id, made.file_id);
    assert_eq!(appended.version_number, 3);
    let capped = NewCopy {
        versions: vec![copied(&src2)],
        max_versions: 3,
        ..copy.clone()
    };
    assert!(matches!(
        catalog
            .insert_copy(&capped, &Outbox::none())
            .await
            .expect("copy"),
        CopyOutcome::TooManyVersions
    ));
    assert!(!catalog
        .blob_is_referenced(&capped.versions[0].blob_key)
        .await
        .expect("r"));
    assert_consistent(&catalog, &account, &made.file_id).await;
}

async fn moves_and_renames_keep_ids_and_refuse_taken_names(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let m = committed(
        catalog
            .commit_upload(&upload(&account, "m.jpg"))
            .await
            .expect("c"),
    );
    assert_eq!(
        catalog
            .move_file(
                &account,
                "/a/b/m.jpg",
                &target("/x/y"),
                100,
                &Outbox::none()
            )
            .await
            .expect("move"),
        MoveOutcome::Moved
    );
    let moved = catalog
        .file_by_id(&account, &m.file_id)
        .await
        .expect("m")
        .expect("m");
    assert_eq!(moved.file_path, "/x/y/m.jpg");
    assert_eq!(moved.blob_key, m.blob_key, "blobs stay where they are");
    assert_eq!(
        catalog
            .move_file(
                &account,
                "/a/b/m.jpg",
                &target("/x/y"),
                100,
                &Outbox::none()
            )
            .await
            .expect("move"),
        MoveOutcome::NotFound
    );

    // Onto a file of the same name: the versions join it, the moved one current.
    let other = committed(
        catalog
            .commit_upload(&upload(&account, "m.jpg"))
            .await
            .expect("c"),
    );
    assert_eq!(
        catalog
            .move_file(
                &account,
                "/x/y/m.jpg",
                &target("/a/b/"),
                100,
                &Outbox::none()
            )
            .await
            .expect("move"),
        MoveOutcome::Moved
    );
    assert!(catalog
        .file_by_id(&account, &m.file_id)
        .await
        .expect("m")
        .is_none());
    let joined = catalog
        .file_by_id(&account, &other.file_id)
        .await
        .expect("o")
        .expect("o");
    assert_eq!(joined.version_id, m.version_id);
    assert_eq!(joined.version_number, 2);
    assert_consistent(&catalog, &account, &other.file_id).await;

    // Rename.
    committed(
        catalog
            .commit_upload(&upload(&account, "taken.jpg"))
            .await
            .expect("c"),
    );
    assert!(matches!(
        catalog
            .rename_file(&account, "/a/b/m.jpg", "taken.jpg", &Outbox::none())
            .await
            .expect("rename"),
        RenameOutcome::Exists
    ));
    let renamed = match catalog
        .rename_file(&account, "/a/b/m.jpg", "n.jpg", &Outbox::none())
        .await
        .expect("rename")
    {
        RenameOutcome::Renamed(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(renamed.file_path, "/a/b/n.jpg");
    assert_eq!(renamed.name, "n.jpg");
    assert_eq!(renamed.file_id, other.file_id);
    assert!(matches!(
        catalog
            .rename_file(&account, "/a/b/m.jpg", "o.jpg", &Outbox::none())
            .await
            .expect("rename"),
        RenameOutcome::NotFound
    ));
    // Every version follows the file's name.
    let versions = catalog
        .file_versions(&account, &other.file_id)
        .await
        .expect("v")
        .expect("v");
    assert!(versions.iter().all(|v| v.file_path == "/a/b/n.jpg"));
}

/// Deletes racing overwrites of the same path: whatever the interleaving, no row is left
/// pointing at a blob the delete reported, and every blob a commit wrote is either reported
/// by a delete or still referenced.
async fn deletes_racing_overwrites_leave_no_row_without_blob(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let first = committed(
        catalog
            .commit_upload(&upload(&account, "race.jpg"))
            .await
            .expect("c"),
    );
    let uploads: Vec<NewUpload> = (0..12).map(|_| upload(&account, "race.jpg")).collect();
    let commits = join_all(uploads.iter().cloned().map(|up| {
        let c = Arc::clone(&catalog);
        tokio::spawn(async move { committed(c.commit_upload(&up).await.expect("commit")) })
    }));
    let deletes = join_all((0..6).map(|_| {
        let c = Arc::clone(&catalog);
        let account = account.clone();
        tokio::spawn(async move {
            let mut removed = Vec::new();
            for _ in 0..3 {
                if let Some(v) = c
                    .current_by_path(&account, "/a/b/race.jpg")
                    .await
                    .expect("path")
                {
                    if let DeleteOutcome::Deleted(r) = c
                        .delete_files(&account, &[v.file_id], &Outbox::none())
                        .await
                        .expect("delete")
                    {
                        removed.extend(r);
                    }
                }
                tokio::task::yield_now().await;
            }
            removed
        })
    }));
    let (commits, deletes) = tokio::join!(commits, deletes);
    let written: Vec<String> = std::iter::once(first.blob_key.clone())
        .chain(commits.into_iter().map(|r| r.expect("join").blob_key))
        .collect();
    let removed: Vec<String> = deletes
        .into_iter()
        .flat_map(|r| r.expect("join"))
        .map(|r| r.blob_key)
        .collect();
    for key in &written {
        let referenced = catalog.blob_is_referenced(key).await.expect("ref");
        let reported = removed.contains(key);
        assert!(
            referenced != reported,
            "{key}: referenced={referenced} reported={reported}"
        );
    }
    if let Some(v) = catalog
        .current_by_path(&account, "/a/b/race.jpg")
        .await
        .expect("path")
    {
        assert_consistent(&catalog, &account, &v.file_id).await;
    }
}

/// Restores racing overwrites: the file ends with one current version that exists, and
/// version numbers are never reused.
async fn restores_racing_overwrites_stay_consistent(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let first = committed(
        catalog
            .commit_upload(&upload(&account, "rr.jpg"))
            .await
            .expect("c"),
    );
    let commits = join_all((0..10).map(|_| {
        let c = Arc::clone(&catalog);
        let up = upload(&account, "rr.jpg");
        tokio::spawn(async move { committed(c.commit_upload(&up).await.expect("commit")) })
    }));
    let restores = join_all((0..10).map(|_| {
        let c = Arc::clone(&catalog);
        let (account, file_id, version_id) = (
            account.clone(),
            first.file_id.clone(),
            first.version_id.clone(),
        );
        tokio::spawn(async move {
            assert!(matches!(
                c.restore_version(&account, &file_id, &version_id, &Outbox::none())
                    .await
                    .expect("restore"),
                RestoreOutcome::Restored(_)
            ));
        })
    }));
    let (commits, restores) = tokio::join!(commits, restores);
    restores.into_iter().for_each(|r| r.expect("join"));
    let mut numbers: Vec<u32> = commits
        .into_iter()
        .map(|r| r.expect("join").version_number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=11).collect::<Vec<u32>>());
    assert_consistent(&catalog, &account, &first.file_id).await;
}

/// A rename onto a name an upload is creating: one of them gets the name, the other sees it
/// taken (or, for an overwriting upload that comes second, adds a version to the renamed file).
async fn renames_racing_creations_of_the_target_never_share_a_path(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    for round in 0..8 {
        let source = committed(
            catalog
                .commit_upload(&upload(&account, &format!("src{round}.jpg")))
                .await
                .expect("c"),
        );
        let target_name = format!("dst{round}.jpg");
        let mut create = upload(&account, &target_name);
        create.overwrite_file = false;
        let c = Arc::clone(&catalog);
        let commit = tokio::spawn(async move { c.commit_upload(&create).await.expect("commit") });
        let rename = catalog
            .rename_file(&account, &source.file_path, &target_name, &Outbox::none())
            .await
            .expect("rename");
        let commit = commit.await.expect("join");
        match (&rename, &commit) {
            (RenameOutcome::Renamed(_), CommitOutcome::PathTaken)
            | (RenameOutcome::Exists, CommitOutcome::Committed(_)) => {}
            other => panic!("round {round}: {other:?}"),
        }
        let holder = catalog
            .current_by_path(&account, &format!("/a/b/{target_name}"))
            .await
            .expect("path")
            .expect("someone holds the name");
        assert_consistent(&catalog, &account, &holder.file_id).await;
    }
}

// ---- Folders and background jobs (media-api §2; the domain rules are `crate::jobs`'). ----

fn job(account_id: &str, depends_on: Option<&str>) -> super::Job {
    super::Job {
        job_id: crate::ids::object_id(),
        account_id: account_id.to_owned(),
        kind: super::JobKind::CopyFolder,
        completed: false,
        params: serde_json::json!({"from": "/a/", "to": "/b/a/"}),
        cursor: None,
        purge_request_id: None,
        depends_on: depends_on.map(str::to_owned),
        attempts: 0,
        created_at_ms: crate::ids::now_millis(),
    }
}

async fn jobs_are_claimed_once_leased_checkpointed_and_resumed(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let first = job(&account, None);
    let mut then = job(&account, Some(&first.job_id));
    then.kind = super::JobKind::Purge;
    then.created_at_ms = first.created_at_ms - 1; // older, yet it waits for `first`
    catalog
        .insert_jobs(&[first.clone(), then.clone()])
        .await
        .expect("insert");
    let now = crate::ids::now_millis();

    // Claims racing for the one claimable job: exactly one wins.
    let claims = join_all((0..8).map(|i| {
        let c = Arc::clone(&catalog);
        tokio::spawn(async move {
            c.claim_job(&format!("r{i}"), now, 10_000)
                .await
                .expect("claim")
        })
    }))
    .await;
    let won: Vec<super::Job> = claims
        .into_iter()
        .filter_map(|r| r.expect("join"))
        .collect();
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(won[0].job_id, first.job_id, "the dependent job waits");
    assert_eq!(won[0].attempts, 1);
    // The lease runs out: another runner takes the job over and resumes from its cursor; the
    // first one can no longer save or complete.
    let mut winner = None;
    for i in 0..8 {
        let o = format!("r{i}");
        if catalog
            .checkpoint_job(&first.job_id, &o, Some("/a/x.jpg"), now + 10_000)
            .await
            .expect("checkpoint")
        {
            winner = Some(o);
        }
    }
    let winner = winner.expect("the claimer may checkpoint");
    assert!(catalog
        .claim_job("late", now + 5_000, 10_000)
        .await
        .expect("claim")
        .is_none());
    let resumed = catalog
        .claim_job("late", now + 20_000, 10_000)
        .await
        .expect("claim")
        .expect("the expired job");
    assert_eq!(resumed.job_id, first.job_id);
    assert_eq!(resumed.cursor.as_deref(), Some("/a/x.jpg"));
    assert_eq!(resumed.attempts, 2);
    assert!(!catalog
        .checkpoint_job(&first.job_id, &winner, None, now + 30_000)
        .await
        .expect("checkpoint"));
    assert!(!catalog
        .complete_job(&first.job_id, &winner, now)
        .await
        .expect("complete"));
    assert!(catalog
        .complete_job(&first.job_id, "late", now)
        .await
        .expect("complete"));
    let done = catalog
        .job(&account, &first.job_id)
        .await
        .expect("job")
        .expect("found");
    assert!(done.completed);
    assert!(catalog
        .job("other", &first.job_id)
        .await
        .expect("job")
        .is_none());

    // Now the dependent one; a released lease is claimable at once.
    let next = catalog
        .claim_job("late", now + 20_000, 10_000)
        .await
        .expect("claim")
        .expect("the purge");
    assert_eq!(next.job_id, then.job_id);
    assert_eq!(next.kind, super::JobKind::Purge);
    assert_eq!(catalog.release_jobs("late").await.expect("release"), 1);
    assert!(catalog
        .claim_job("other", now + 20_000, 10_000)
        .await
        .expect("claim")
        .is_some());
    assert!(catalog
        .claim_job("x", now + 20_000, 10_000)
        .await
        .expect("claim")
        .is_none());
}

async fn files_and_folders_under_a_prefix_compare_bytewise(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let put = |folder: &str, name: &str| {
        let mut up = upload(&account, name);
        up.folder_path = folder.to_owned();
        up.folder_ancestors = folio_contract::Folder::parse(folder)
            .expect("folder")
            .ancestors()
            .map(|f| f.path())
            .collect();
        up
    };
    // `_` and `%` are LIKE wildcards; `/a_b/` must not match `/aXb/`, nor `/a/` match `/ab/`.
    for (folder, name) in [
        ("/a/", "1.jpg"),
        ("/a/", "2.jpg"),
        ("/a/z/", "3.jpg"),
        ("/ab/", "4.jpg"),
        ("/a_b/", "5.jpg"),
        ("/aXb/", "6.jpg"),
        ("/é/", "7.jpg"),
    ] {
        committed(
            catalog
                .commit_upload(&put(folder, name))
                .await
                .expect("commit"),
        );
    }
    let paths =
        |refs: Vec<super::FileRef>| refs.into_iter().map(|r| r.file_path).collect::<Vec<_>>();
    assert_eq!(
        paths(
            catalog
                .files_under(&account, "/a/", None, 10)
                .await
                .expect("under")
        ),
        ["/a/1.jpg", "/a/2.jpg", "/a/z/3.jpg"]
    );
    assert_eq!(
        paths(
            catalog
                .files_under(&account, "/a/", Some("/a/1.jpg"), 1)
                .await
                .expect("under")
        ),
        ["/a/2.jpg"]
    );
    assert_eq!(
        paths(
            catalog
                .files_under(&account, "/a_b/", None, 10)
                .await
                .expect("under")
        ),
        ["/a_b/5.jpg"]
    );
    assert_eq!(
        paths(
            catalog
                .files_under(&account, "/", None, 100)
                .await
                .expect("under")
        )
        .len(),
        7
    );
    assert_eq!(
        paths(
            catalog
                .files_under(&account, "/é/", None, 10)
                .await
                .expect("under")
        ),
        ["/é/7.jpg"]
    );
    catalog
        .create_folder(&account, &target("/a/empty/deeper"))
        .await
        .expect("create");
    assert_eq!(
        catalog
            .folders_under(&account, "/a/")
            .await
            .expect("folders"),
        ["/a/", "/a/empty/", "/a/empty/deeper/", "/a/z/"]
    );
    // Only folders no file is under go.
    assert_eq!(
        catalog
            .delete_empty_folders(&account, "/a/")
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        catalog
            .folders_under(&account, "/a/")
            .await
            .expect("folders"),
        ["/a/", "/a/z/"]
    );
    assert!(
        catalog
            .folders_under(&account, "/ab/")
            .await
            .expect("f")
            .len()
            == 1
    );
}

/// Deleting a folder of 10,000 files goes in batches of `jobs::DELETE_BATCH` files, one short
/// transaction each (an upload commits between two of them), rows before blobs.
async fn a_folder_of_10000_files_is_deleted_in_batches(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let mut uploads = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut up = upload(&account, &format!("f{i:05}.jpg"));
        up.folder_path = "/big/".into();
        up.folder_ancestors = vec!["/big/".into()];
        uploads.push(up);
    }
    for chunk in uploads.chunks(500) {
        let commits = join_all(chunk.iter().cloned().map(|up| {
            let c = Arc::clone(&catalog);
            tokio::spawn(async move { committed(c.commit_upload(&up).await.expect("commit")) })
        }))
        .await;
        assert!(commits.into_iter().all(|r| r.is_ok()));
    }
    let mut batches = 0;
    let mut removed = 0;
    loop {
        let batch = catalog
            .files_under(&account, "/big/", None, crate::jobs::DELETE_BATCH)
            .await
            .expect("under");
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= crate::jobs::DELETE_BATCH as usize);
        let ids: Vec<String> = batch.into_iter().map(|f| f.file_id).collect();
        match catalog
            .delete_files(&account, &ids, &Outbox::none())
            .await
            .expect("delete")
        {
            super::DeleteOutcome::Deleted(gone) => removed += gone.len(),
            other => panic!("{other:?}"),
        }
        batches += 1;
        // Between two batches the catalog takes other writes: an upload elsewhere commits.
        committed(
            catalog
                .commit_upload(&upload(&account, &format!("meanwhile{batches}.jpg")))
                .await
                .expect("commit"),
        );
    }
    assert_eq!((batches, removed), (20, 10_000));
    assert_eq!(
        catalog
            .delete_empty_folders(&account, "/big/")
            .await
            .expect("f"),
        1
    );
    assert!(catalog
        .folder_by_path(&account, "/big/")
        .await
        .expect("f")
        .is_none());
    assert_eq!(
        catalog
            .files_under(&account, "/a/b/", None, 100)
            .await
            .expect("u")
            .len(),
        20,
        "the uploads made meanwhile are there"
    );
}

fn endpoint(account: &str, id: &str, events: &[&str]) -> super::WebhookEndpoint {
    super::WebhookEndpoint {
        id: id.to_owned(),
        account_id: account.to_owned(),
        url: format!("https://example.com/{id}"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: "whsec_0123456789abcdef01234567".to_owned(),
        previous_secret: None,
        previous_secret_until_ms: None,
        from_config: false,
        disabled_at_ms: None,
        disabled_reason: None,
        created_at_ms: crate::ids::now_millis(),
    }
}

fn outbox_of(account: &str) -> Outbox {
    let render = crate::media::details::RenderContext {
        url_endpoint: "https://media.example/default".to_owned(),
        live_fields: Default::default(),
    };
    Outbox::new(account, Arc::new(render), None)
}

/// Everything due now (far in the future, to see rows leased or retried later too).
async fn claim_all(catalog: &Arc<dyn Catalog>, at: i64) -> Vec<super::ClaimedDelivery> {
    catalog
        .claim_deliveries(at, 60_000, 1000)
        .await
        .expect("claim")
}

async fn events_exist_exactly_when_their_change_committed(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    catalog
        .add_webhook_endpoint(&endpoint(&account, "wh_all", &[]))
        .await
        .expect("endpoint");
    catalog
        .add_webhook_endpoint(&endpoint(&account, "wh_deleted", &["file.deleted"]))
        .await
        .expect("endpoint");
    let outbox = outbox_of(&account);
    let mut up = upload(&account, "e.jpg");
    up.outbox = outbox.clone();
    let created = committed(catalog.commit_upload(&up).await.expect("commit"));
    // A refused commit writes no event.
    let mut refused = upload(&account, "e.jpg");
    refused.overwrite_file = false;
    refused.outbox = outbox.clone();
    assert!(matches!(
        catalog.commit_upload(&refused).await.expect("commit"),
        CommitOutcome::PathTaken
    ));
    // Neither does an edit that refuses, nor a delete of an unknown file.
    let refuse = |_: &mut StoredVersion| Err(Default::default());
    let ids = [created.file_id.clone()];
    assert!(matches!(
        catalog
            .edit_versions(&account, &ids, EditScope::Current, &refuse, &outbox)
            .await
            .expect("edit"),
        EditOutcome::Invalid(_)
    ));
    let unknown = [
        "65a000000000000000000000".to_owned(),
        created.file_id.clone(),
    ];
    assert!(matches!(
        catalog
            .delete_files(&account, &unknown, &outbox)
            .await
            .expect("delete"),
        DeleteOutcome::Missing(_)
    ));
    let now = crate::ids::now_millis() + 1000;
    let rows = claim_all(&catalog, now).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.endpoint_id.as_deref(), Some("wh_all"));
    assert_eq!(row.row.event_type, "file.created");
    let body: serde_json::Value = serde_json::from_str(&row.row.body).expect("json");
    assert_eq!(body["type"], "file.created");
    assert_eq!(body["id"], row.row.message_id.as_str());
    assert_eq!(body["data"]["fileId"], created.file_id.as_str());
    assert_eq!(
        body["data"]["url"],
        format!("https://media.example/default{}", created.file_path)
    );
    // A delete: both endpoints, one event id.
    assert!(matches!(
        catalog
            .delete_files(&account, &ids, &outbox)
            .await
            .expect("delete"),
        DeleteOutcome::Deleted(_)
    ));
    let rows = claim_all(&catalog, now).await;
    let mut endpoints: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.endpoint_id.as_deref())
        .collect();
    endpoints.sort_unstable();
    assert_eq!(endpoints, ["wh_all", "wh_deleted"]);
    assert_eq!(rows[0].row.message_id, rows[1].row.message_id);
    assert_eq!(rows[0].row.event_type, "file.deleted");
    // Without an outbox (tools, tests) a change writes nothing.
    committed(
        catalog
            .commit_upload(&upload(&account, "quiet.jpg"))
            .await
            .expect("commit"),
    );
    assert_eq!(catalog.deliveries(false, 100).await.expect("log").len(), 3);
}

async fn deliveries_are_claimed_once_leased_retried_and_finished(catalog: Arc<dyn Catalog>) {
    use super::{DeliveryOutcome, DeliveryReport};
    let account = account(&catalog).await;
    catalog
        .add_webhook_endpoint(&endpoint(&account, "wh_a", &["file.created"]))
        .await
        .expect("endpoint");
    let outbox = outbox_of(&account);
    for i in 0..40 {
        let mut up = upload(&account, &format!("d{i}.jpg"));
        up.outbox = outbox.clone();
        committed(catalog.commit_upload(&up).await.expect("commit"));
    }
    assert_eq!(catalog.pending_deliveries().await.expect("backlog"), 40);
    let now = crate::ids::now_millis() + 1000;
    // Two claims at once share nothing.
    let (a, b) = tokio::join!(
        catalog.claim_deliveries(now, 10_000, 25),
        catalog.claim_deliveries(now, 10_000, 25)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    // A claim may get fewer than it asked for (a racing one took them); the rest follows.
    let rest = catalog
        .claim_deliveries(now, 10_000, 40)
        .await
        .expect("rest");
    let mut ids: Vec<i64> = a.iter().chain(&b).chain(&rest).map(|c| c.id).collect();
    assert_eq!(ids.len(), 40, "{} + {} + {}", a.len(), b.len(), rest.len());
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no row claimed twice");
    assert!(a.iter().all(|c| c.attempts == 1));
    // Leased: not claimed again until the lease ends (an attempt whose instance died is not
    // counted: nothing recorded it).
    assert!(claim_all(&catalog, now + 9_999).await.is_empty());
    let again = claim_all(&catalog, now + 10_000).await;
    assert_eq!(again.len(), 40);
    assert!(again.iter().all(|c| c.attempts == 1));
    let at = now + 10_000;
    let reports: Vec<DeliveryReport> = again
        .iter()
        .enumerate()
        .map(|(i, c)| DeliveryReport {
            id: c.id,
            outcome: match i % 4 {
                0 => DeliveryOutcome::Delivered,
                1 => DeliveryOutcome::Retry(at + 500),
                2 => DeliveryOutcome::Failed,
                _ => DeliveryOutcome::EndpointGone,
            },
            status: Some(500),
            error: Some("test".to_owned()),
            at_ms: at,
        })
        .collect();
    catalog.finish_deliveries(&reports).await.expect("finish");
    // Only the retried ones come back, when due.
    assert!(claim_all(&catalog, at + 499).await.is_empty());
    // Retried ones are still to be delivered; delivered and failed ones are not.
    assert_eq!(catalog.pending_deliveries().await.expect("backlog"), 10);
    let retried = claim_all(&catalog, at + 500).await;
    assert_eq!(retried.len(), 10);
    assert!(retried.iter().all(|c| c.attempts == 2), "{retried:?}");
    let log = catalog.deliveries(false, 100).await.expect("log");
    assert_eq!(log.len(), 40);
    assert_eq!(log.iter().filter(|d| d.state == "delivered").count(), 10);
    assert_eq!(catalog.deliveries(true, 100).await.expect("log").len(), 20);
    // A 410 disabled the endpoint: new events are not written for it.
    let endpoints = catalog.webhook_endpoints().await.expect("endpoints");
    assert!(endpoints[0].disabled_at_ms.is_some());
    let mut up = upload(&account, "after.jpg");
    up.outbox = outbox.clone();
    committed(catalog.commit_upload(&up).await.expect("commit"));
    assert_eq!(catalog.deliveries(false, 100).await.expect("log").len(), 40);
    // Finished rows are purged after their retention; pending ones never.
    assert_eq!(catalog.purge_deliveries(at + 1).await.expect("purge"), 30);
    assert_eq!(catalog.deliveries(false, 100).await.expect("log").len(), 10);
    // Removing the endpoint drops what is still pending for it.
    assert!(catalog.remove_webhook_endpoint("wh_a").await.expect("rm"));
    assert!(claim_all(&catalog, at + 100_000).await.is_empty());
}

async fn rate_counts_and_usage_are_counted(catalog: Arc<dyn Catalog>) {
    // Hits count per scope and window; concurrent hits each get their own count.
    let hits = futures_util::future::join_all((0..10).map(|_| catalog.hit("ip:10.0.0.1", 600)))
        .await
        .into_iter()
        .map(|h| h.expect("hit"))
        .collect::<std::collections::BTreeSet<u64>>();
    assert_eq!(hits, (1..=10).collect());
    assert_eq!(catalog.hit("key:public_a", 600).await.expect("hit"), 1);
    assert_eq!(
        catalog.hit("ip:10.0.0.1", 660).await.expect("hit"),
        1,
        "a new window"
    );
    catalog.purge_hits(660).await.expect("purge");
    assert_eq!(catalog.hit("ip:10.0.0.1", 660).await.expect("hit"), 2);

    let account = account(&catalog).await;
    assert_eq!(
        catalog.usage(&account).await.expect("usage"),
        Usage::default()
    );
    committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("commit"),
    );
    // A second version of the same file: one file, both versions' bytes.
    committed(
        catalog
            .commit_upload(&upload(&account, "a.jpg"))
            .await
            .expect("commit"),
    );
    committed(
        catalog
            .commit_upload(&upload(&account, "b.jpg"))
            .await
            .expect("commit"),
    );
    assert_eq!(
        catalog.usage(&account).await.expect("usage"),
        Usage {
            files: 2,
            bytes: 3 * 1234
        }
    );
}

async fn accounts_are_created_listed_and_disabled(catalog: Arc<dyn Catalog>) {
    catalog.bootstrap().await.expect("bootstrap");
    let (shop, key) = catalog
        .create_account("shop")
        .await
        .expect("create")
        .expect("a new account");
    assert_eq!((shop.url_id.as_str(), shop.disabled), ("shop", false));
    assert_eq!(key.account_id, shop.id);
    assert!(
        catalog
            .create_account("shop")
            .await
            .expect("create")
            .is_none(),
        "taken"
    );
    // Oldest first; both may be made in the same millisecond.
    let urls: std::collections::BTreeSet<String> = catalog
        .list_accounts()
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.url_id)
        .collect();
    assert_eq!(urls, ["default".to_owned(), "shop".to_owned()].into());

    assert!(catalog
        .set_account_disabled("shop", true)
        .await
        .expect("disable"));
    let found = catalog
        .key_by_public(&key.public_key)
        .await
        .expect("key")
        .expect("found");
    assert!(found.account.disabled);
    assert!(catalog
        .set_account_disabled("shop", false)
        .await
        .expect("enable"));
    assert!(!catalog
        .set_account_disabled("nobody", true)
        .await
        .expect("disable"));

    let expiring = catalog
        .create_key(Some(&shop.id), Some(2_000_000_000))
        .await
        .expect("key");
    let found = catalog
        .key_by_private(&expiring.private_key)
        .await
        .expect("key")
        .expect("found");
    assert_eq!(found.key.expires_at, Some(2_000_000_000));
    assert!(!found.account.disabled);
}

async fn file_sequences_are_paged_and_counters_only_rise(catalog: Arc<dyn Catalog>) {
    let account = account(&catalog).await;
    let first = committed(
        catalog
            .commit_upload(&upload(&account, "x.jpg"))
            .await
            .expect("commit"),
    );
    committed(
        catalog
            .commit_upload(&upload(&account, "x.jpg"))
            .await
            .expect("commit"),
    );
    let other = committed(
        catalog
            .commit_upload(&upload(&account, "y.jpg"))
            .await
            .expect("commit"),
    );
    let all = catalog.file_sequences_after("", 10).await.expect("page");
    assert_eq!(all.len(), 2);
    let x = all
        .iter()
        .find(|f| f.file_id == first.file_id)
        .expect("x")
        .clone();
    assert_eq!(
        (
            x.versions,
            x.highest,
            x.last_version_number,
            x.current_found
        ),
        (2, Some(2), 2, true)
    );
    let y = all.iter().find(|f| f.file_id == other.file_id).expect("y");
    assert_eq!((y.versions, y.highest, y.current_found), (1, Some(1), true));
    // In id order, a page at a time.
    let page = catalog.file_sequences_after("", 1).await.expect("page");
    let next = catalog
        .file_sequences_after(&page[0].file_id, 1)
        .await
        .expect("page");
    assert_eq!(vec![page[0].clone(), next[0].clone()], all);
    assert!(catalog
        .file_sequences_after(&next[0].file_id, 1)
        .await
        .expect("page")
        .is_empty());

    assert!(!catalog
        .raise_last_version_number(&x.file_id, 1)
        .await
        .expect("raise"));
    assert!(catalog
        .raise_last_version_number(&x.file_id, 5)
        .await
        .expect("raise"));
    let raised = catalog.file_sequences_after("", 10).await.expect("page");
    let x = raised.iter().find(|f| f.file_id == x.file_id).expect("x");
    assert_eq!(x.last_version_number, 5);
    let after = committed(
        catalog
            .commit_upload(&upload(&account, "x.jpg"))
            .await
            .expect("commit"),
    );
    assert_eq!(
        after.version_number, 6,
        "the next version follows the counter"
    );
}

async fn console_sessions_are_found_taken_once_and_purged(catalog: Arc<dyn Catalog>) {
    use super::{ConsoleSession, ConsoleSessionKind};
    let session = |id: u8, kind, expires_at| ConsoleSession {
        id_hash: vec![id; 32],
        kind,
        public_key: "public_k".to_owned(),
        csrf: format!("csrf-{id}"),
        created_at: 100,
        expires_at,
    };
    let live = session(1, ConsoleSessionKind::Session, 1_000);
    let link = session(2, ConsoleSessionKind::Link, 500);
    for s in [&live, &link] {
        catalog.create_console_session(s).await.expect("create");
    }
    assert_eq!(
        catalog.console_session(&[1; 32]).await.expect("find"),
        Some(live.clone())
    );
    assert_eq!(catalog.console_session(&[9; 32]).await.expect("find"), None);
    // A link is used once, however many ask at the same time.
    let takes = join_all((0..4).map(|_| catalog.take_console_session(&[2; 32]))).await;
    let taken: Vec<ConsoleSession> = takes.into_iter().filter_map(|t| t.expect("take")).collect();
    assert_eq!(taken, vec![link]);
    assert_eq!(catalog.purge_console_sessions(999).await.expect("purge"), 0);
    assert_eq!(
        catalog.purge_console_sessions(1_001).await.expect("purge"),
        1
    );
    assert_eq!(catalog.console_session(&[1; 32]).await.expect("find"), None);
}
