//! Phase S: v1 signature uploads (spec §2.2; Appendix A item 7).

use crate::harness::{fixture, form_with_file, Reply, TestApp};

const TOKEN: &str = "9e9f1f5c-7a8e-4a55-9c1e-3c1f0b7d2a11";
const EXPIRE: i64 = 1_735_689_600;
const SIGNATURE: &str = "def15d9146f0402e37c5b08d9f5e89c755e5acb2";
const INVALID_EXPIRE: &str = "Your request contains invalid expire parameter. Expire parameter should be a Unix time in less than 1 hour into the future.";

async fn app_at(now: i64) -> TestApp {
    TestApp::builder()
        .keys("public_test_key", "private_test_key")
        .clock(now)
        .start()
        .await
}

async fn post(app: &TestApp, fields: &[(&str, &str)]) -> Reply {
    let mut all = vec![("fileName", "abc.jpg")];
    all.extend_from_slice(fields);
    let form = form_with_file(fixture("tiny.jpg"), &all);
    app.post("/api/v1/files/upload", form, None).await
}

#[tokio::test]
async fn the_spec_vector_is_accepted_once() {
    let app = app_at(EXPIRE - 100).await;
    let fields = [
        ("publicKey", "public_test_key"),
        ("token", TOKEN),
        ("expire", "1735689600"),
        ("signature", SIGNATURE),
        ("tags", "tag1"),
    ];
    let body = post(&app, &fields).await.assert_ok().clone();
    assert!(body["name"].as_str().expect("name").starts_with("abc_"));
    post(&app, &fields).await.assert_error(
        400,
        "Your request contains a token that has already been used.",
    );
}

#[tokio::test]
async fn expire_out_of_range_is_refused() {
    let now = EXPIRE - 100;
    let app = app_at(now).await;
    let private = "private_test_key";
    for expire in [
        (now + 7200).to_string(),
        (now - 1).to_string(),
        now.to_string(),
        ((now + 100) * 1000).to_string(),
        "soon".to_owned(),
    ] {
        let signature = folio_token::v1_signature(private, TOKEN, &expire);
        post(
            &app,
            &[
                ("publicKey", "public_test_key"),
                ("token", TOKEN),
                ("expire", &expire),
                ("signature", &signature),
            ],
        )
        .await
        .assert_error(400, INVALID_EXPIRE);
    }
    // the boundary now + 3600 is inside
    let expire = (now + 3600).to_string();
    let signature = folio_token::v1_signature(private, "other-token", &expire);
    post(
        &app,
        &[
            ("publicKey", "public_test_key"),
            ("token", "other-token"),
            ("expire", &expire),
            ("signature", &signature),
        ],
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn each_missing_or_wrong_field_has_its_message() {
    let app = app_at(EXPIRE - 100).await;
    let full = [
        ("publicKey", "public_test_key"),
        ("token", TOKEN),
        ("expire", "1735689600"),
        ("signature", SIGNATURE),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        full.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    post(&app, &without("publicKey"))
        .await
        .assert_error(400, "Your request is missing publicKey parameter.");
    post(&app, &without("token"))
        .await
        .assert_error(400, "Your request is missing token parameter.");
    post(&app, &without("signature"))
        .await
        .assert_error(400, "Your request is missing signature parameter.");
    post(&app, &without("expire"))
        .await
        .assert_error(400, INVALID_EXPIRE);
    let upper = SIGNATURE.to_uppercase();
    let mut wrong = full.to_vec();
    wrong[3] = ("signature", &upper);
    post(&app, &wrong)
        .await
        .assert_error(400, "Your request contains invalid signature parameter.");
    let mut unknown = full.to_vec();
    unknown[0] = ("publicKey", "public_nobody");
    post(&app, &unknown)
        .await
        .assert_error(403, "Your account cannot be authenticated.");
    // None of these burned the nonce.
    post(&app, &full).await.assert_ok();
}

/// Security review finding 5: the signature covers `token ‖ expire`, so moving a token's
/// trailing `0` to the front of `expire` kept it valid and passed as a new token.
#[tokio::test]
async fn a_token_digit_moved_into_expire_is_not_a_new_token() {
    let app = app_at(EXPIRE - 100).await;
    let private = "private_test_key";
    let (token, expire) = ("b1946ac9-2e1c-4a33-9f1b-6d4f0c2a7e10", "1735689600");
    let signature = folio_token::v1_signature(private, token, expire);
    let first = [
        ("publicKey", "public_test_key"),
        ("token", token),
        ("expire", expire),
        ("signature", signature.as_str()),
    ];
    post(&app, &first).await.assert_ok();

    let shifted_token = &token[..token.len() - 1];
    let shifted_expire = format!("0{expire}");
    // The same signed text, so the same signature.
    assert_eq!(
        folio_token::v1_signature(private, shifted_token, &shifted_expire),
        signature
    );
    let replay = [
        ("publicKey", "public_test_key"),
        ("token", shifted_token),
        ("expire", shifted_expire.as_str()),
        ("signature", signature.as_str()),
    ];
    post(&app, &replay).await.assert_error(400, INVALID_EXPIRE);
    app.assert_no_orphan_blobs(1).await;
}
