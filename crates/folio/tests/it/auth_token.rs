//! Phase J: v2 JWT uploads (spec §2.3, §2.5; Appendix A items 5, 6) and the single-use rule.

use folio_token::sign_claims;
use serde_json::json;

use crate::harness::{fixture, form_with_file, TestApp};

const VECTOR: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InB1YmxpY190ZXN0X2tleSJ9.eyJmaWxlTmFtZSI6ImRyZXNzLmpwZyIsInVzZVVuaXF1ZUZpbGVOYW1lIjoiZmFsc2UiLCJ0YWdzIjoic3VtbWVyLGRyZXNzIiwiaWF0IjoxNzM1Njg5NjAwLCJleHAiOjE3MzU2OTAwMDB9.E_JuHCEdP8_2kAzAxbkoTbc-hhr_KzWpLxjdNEV3d4o";
const IAT: i64 = 1_735_689_600;
const EXP: i64 = 1_735_690_000;
const VECTOR_FIELDS: [(&str, &str); 3] = [
    ("fileName", "dress.jpg"),
    ("useUniqueFileName", "false"),
    ("tags", "summer,dress"),
];

async fn vector_app(now: i64) -> TestApp {
    TestApp::builder()
        .keys("public_test_key", "private_test_key")
        .clock(now)
        .start()
        .await
}

async fn post_token(app: &TestApp, token: &str, fields: &[(&str, &str)]) -> crate::harness::Reply {
    let mut all = fields.to_vec();
    all.push(("token", token));
    let form = form_with_file(fixture("tiny.jpg"), &all);
    app.post("/api/v2/files/upload", form, None).await
}

const INVALID: &str = "Your request has invalid token.";
const MISMATCH: &str =
    "Your request contains invalid payload. It does not match with the payload used to generate token.";
use crate::harness::wire::REUSED;

#[tokio::test]
async fn the_spec_vector_is_accepted_once() {
    let app = vector_app(IAT + 100).await;
    let body = post_token(&app, VECTOR, &VECTOR_FIELDS)
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["name"], "dress.jpg");
    assert_eq!(body["filePath"], "/dress.jpg");
    post_token(&app, VECTOR, &VECTOR_FIELDS)
        .await
        .assert_error(400, REUSED);
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn payload_and_request_must_match_both_ways() {
    let app = vector_app(IAT + 100).await;
    let extra = [VECTOR_FIELDS.as_slice(), &[("folder", "/x/")]].concat();
    let reply = post_token(&app, VECTOR, &extra).await;
    reply
        .assert_error(400, MISMATCH)
        .assert_code("TOKEN_PAYLOAD_MISMATCH");
    // Which parameter and how, never its value.
    assert_eq!(
        (&reply.body["param"], &reply.body["problem"]),
        (&json!("folder"), &json!("not in token")),
        "{}",
        reply.body
    );
    assert!(!reply.body.to_string().contains("/x/"), "{}", reply.body);
    // The token is burned now even though the request failed (rule 6).
    post_token(&app, VECTOR, &VECTOR_FIELDS)
        .await
        .assert_error(400, REUSED)
        .assert_code("TOKEN_USED");

    let app = vector_app(IAT + 100).await;
    let reply = post_token(&app, VECTOR, &VECTOR_FIELDS[..2]).await;
    reply.assert_error(400, MISMATCH);
    assert_eq!(
        (&reply.body["param"], &reply.body["problem"]),
        (&json!("tags"), &json!("missing from request"))
    );

    let app = vector_app(IAT + 100).await;
    let changed = [
        ("fileName", "dress.jpg"),
        ("useUniqueFileName", "FALSE"),
        ("tags", "summer,dress"),
    ];
    let reply = post_token(&app, VECTOR, &changed).await;
    reply.assert_error(400, MISMATCH);
    assert_eq!(
        (&reply.body["param"], &reply.body["problem"]),
        (&json!("useUniqueFileName"), &json!("differs"))
    );
    assert!(!reply.body.to_string().contains("FALSE"), "{}", reply.body);
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn broken_tokens_are_invalid() {
    let app = vector_app(IAT + 100).await;
    // flip one character of the signature
    let mut flipped = VECTOR.to_owned();
    let last = flipped.pop().expect("char");
    flipped.push(if last == 'o' { 'p' } else { 'o' });
    post_token(&app, &flipped, &VECTOR_FIELDS)
        .await
        .assert_error(400, INVALID);

    let header = r#"{"alg":"HS256","typ":"JWT","kid":"public_test_key"}"#;
    let too_long = sign_claims(
        header,
        &format!(r#"{{"fileName":"a.jpg","iat":{IAT},"exp":{}}}"#, IAT + 3601),
        "private_test_key",
    );
    post_token(&app, &too_long, &[("fileName", "a.jpg")])
        .await
        .assert_error(400, INVALID);

    let none_alg = sign_claims(
        r#"{"alg":"none","typ":"JWT","kid":"public_test_key"}"#,
        &format!(r#"{{"fileName":"a.jpg","iat":{IAT},"exp":{EXP}}}"#),
        "private_test_key",
    );
    post_token(&app, &none_alg, &[("fileName", "a.jpg")])
        .await
        .assert_error(400, INVALID);

    let string_exp = sign_claims(
        header,
        &format!(r#"{{"fileName":"a.jpg","iat":{IAT},"exp":"{EXP}"}}"#),
        "private_test_key",
    );
    post_token(&app, &string_exp, &[("fileName", "a.jpg")])
        .await
        .assert_error(400, INVALID);

    let unknown_kid = sign_claims(
        r#"{"alg":"HS256","typ":"JWT","kid":"public_other"}"#,
        &format!(r#"{{"fileName":"a.jpg","iat":{IAT},"exp":{EXP}}}"#),
        "private_test_key",
    );
    post_token(&app, &unknown_kid, &[("fileName", "a.jpg")])
        .await
        .assert_error(403, "Your account cannot be authenticated.");
    post_token(&app, "not.a.jwt", &[("fileName", "a.jpg")])
        .await
        .assert_error(400, INVALID);

    // none of them was burned: the genuine vector still works
    post_token(&app, VECTOR, &VECTOR_FIELDS).await.assert_ok();
}

#[tokio::test]
async fn expiry_is_checked_against_the_clock() {
    let app = vector_app(EXP).await;
    let reply = post_token(&app, VECTOR, &VECTOR_FIELDS).await;
    reply
        .assert_error(400, "Your request contains expired token.")
        .assert_code("TOKEN_EXPIRED");
    // The server's clock, for the client to tell its own skew.
    assert_eq!(reply.body["serverTime"], EXP, "{}", reply.body);
    // iat more than the leeway in the future
    let app = vector_app(IAT - 61).await;
    let reply = post_token(&app, VECTOR, &VECTOR_FIELDS).await;
    reply
        .assert_error(400, INVALID)
        .assert_code("TOKEN_INVALID");
    assert_eq!(reply.body["serverTime"], IAT - 61, "{}", reply.body);
    let app = vector_app(IAT - 60).await;
    post_token(&app, VECTOR, &VECTOR_FIELDS).await.assert_ok();
}

#[tokio::test]
async fn a_client_side_upload_with_many_parameters() {
    let app = TestApp::start().await;
    let fields = [
        ("fileName", "dress.jpg"),
        ("folder", "/products/summer/"),
        ("tags", "summer,dress"),
        ("useUniqueFileName", "false"),
        ("isPrivateFile", "false"),
        ("customCoordinates", "1,2,3,4"),
        ("responseFields", "tags,customCoordinates"),
        ("description", "Blue dress"),
    ];
    let body = app
        .upload_with_token(fixture("photo-exif.jpg"), &fields)
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["filePath"], "/products/summer/dress.jpg");
    assert_eq!(body["tags"], serde_json::json!(["summer", "dress"]));
    assert_eq!(body["customCoordinates"], "1,2,3,4");
    assert_eq!(body["description"], "Blue dress");
}

#[tokio::test]
async fn a_token_whose_request_fails_later_cannot_be_reused() {
    let app = TestApp::start().await;
    let token = app.token(&[("fileName", "a.jpg")]);
    // no file part at all
    let form = crate::harness::form(&[("fileName", "a.jpg"), ("token", &token)]);
    app.post("/api/v2/files/upload", form, None)
        .await
        .assert_error(400, "Your request is missing file parameter.");
    let form = form_with_file(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("token", &token)],
    );
    app.post("/api/v2/files/upload", form, None)
        .await
        .assert_error(400, REUSED);
}

#[tokio::test]
async fn a_token_after_the_file_part_works_and_is_single_use() {
    let app = TestApp::start().await;
    let token = app.token(&[("fileName", "late.jpg")]);
    let make = || {
        form_with_file(fixture("tiny.jpg"), &[("fileName", "late.jpg")])
            .text("token", token.clone())
    };
    app.post("/api/v2/files/upload", make(), None)
        .await
        .assert_ok();
    app.post("/api/v2/files/upload", make(), None)
        .await
        .assert_error(400, REUSED);
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn the_same_token_posted_concurrently_wins_once() {
    let app = TestApp::start().await;
    let token = app.token(&[("fileName", "race.jpg")]);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/api/v2/files/upload");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let form = form_with_file(
                fixture("tiny.jpg"),
                &[("fileName", "race.jpg"), ("token", &token)],
            );
            let response = client.post(url).multipart(form).send().await.expect("send");
            TestApp::reply(response).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        let reply = task.await.expect("join");
        if reply.status == 200 {
            ok += 1;
        } else {
            reply.assert_error(400, REUSED);
        }
    }
    assert_eq!(ok, 1);
    app.assert_no_orphan_blobs(1).await;
}

#[tokio::test]
async fn tokens_survive_a_restart_of_the_ledger() {
    // The ledger lives in the catalog: a new server on the same data folder still refuses.
    let app = TestApp::start().await;
    let token = app.token(&[("fileName", "a.jpg")]);
    let form = || {
        form_with_file(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("token", &token)],
        )
    };
    app.post("/api/v2/files/upload", form(), None)
        .await
        .assert_ok();

    let mut config = (*app.server.as_ref().expect("server").state.config).clone();
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.metrics.listen = crate::harness::FREE_PORT.to_owned();
    let (state, created) = folio::server::open_state(config).await.expect("reopen");
    assert!(created.is_none());
    let second = folio::server::start(state).await.expect("start");
    let response = app
        .client
        .post(format!("http://{}/api/v2/files/upload", second.addr))
        .multipart(form())
        .send()
        .await
        .expect("send");
    TestApp::reply(response).await.assert_error(400, REUSED);
    second.stop().await.expect("stop");
}
