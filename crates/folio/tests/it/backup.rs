//! `folio backup` / `folio restore` of the embedded default, taken while uploads go on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::harness::library::{self, content};
use crate::harness::{backend, run_folio, Backend, FolioProcess, TestApp};

#[tokio::test]
async fn a_backup_during_uploads_restores_every_upload_acknowledged_before_it() {
    let app = Arc::new(TestApp::start().await);
    let dir = tempfile::tempdir().expect("tempdir");
    let backup_dir = dir.path().join("backup");
    let backup_arg = backup_dir.display().to_string();
    if backend() == Backend::PostgresS3 {
        let refused = run_folio(&["backup", &backup_arg], &app.cli_env()).await;
        assert!(
            !refused.ok && refused.stderr.contains("pg_dump"),
            "{}",
            refused.stderr
        );
        return;
    }
    // Every upload of this library is acknowledged before the backup begins.
    let library = library::build(&app, 200, 3000).await;
    // Uploads go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn({
        let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                app.upload(content(100_000 + n, 4096), &[("fileName", "during.bin")])
                    .await
                    .assert_ok();
                n += 1;
            }
            n
        }
    });
    let backup = run_folio(&["backup", &backup_arg], &app.cli_env()).await;
    stop.store(true, Ordering::SeqCst);
    let uploaded_during = during.await.expect("join");
    assert!(backup.ok, "{}", backup.stderr);
    assert!(
        backup.stdout.starts_with("backed up: the catalog, "),
        "{}",
        backup.stdout
    );
    println!("{} uploads ran alongside the backup", uploaded_during);

    // Into an empty data folder, served by a new server.
    let restored = dir.path().join("restored");
    let restored_arg = restored.display().to_string();
    let restore = run_folio(&["restore", &backup_arg, "--data-dir", &restored_arg], &[]).await;
    assert!(restore.ok, "{}", restore.stderr);
    let again = run_folio(&["restore", &backup_arg, "--data-dir", &restored_arg], &[]).await;
    assert!(
        !again.ok && again.stderr.contains("a library exists"),
        "{}",
        again.stderr
    );
    let process = FolioProcess::start(&restored, &[], &[]);
    library
        .assert_served_by(&process.base(), &app.private_key)
        .await;
    // A folder that already holds something is not a backup target.
    let refused = run_folio(&["backup", &backup_arg], &app.cli_env()).await;
    assert!(
        !refused.ok && refused.stderr.contains("is not empty"),
        "{}",
        refused.stderr
    );
}
