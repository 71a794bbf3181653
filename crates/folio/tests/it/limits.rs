//! `GET /api/v2/limits`: what an upload must fit, and the server's clock, for any holder of a
//! public key.

use crate::harness::TestApp;

const NOW: i64 = 1_767_225_600;

async fn app() -> TestApp {
    TestApp::builder()
        .clock(NOW)
        .config(|c| {
            c.limits.max_file_size = 5 * 1024 * 1024;
            c.limits.max_video_size = 50 * 1024 * 1024;
            c.limits.max_versions_per_file = 7;
            c.auth.clock_leeway_secs = 30;
            c.resumable.ttl_secs = 3600;
            c.resumable.max_incomplete_per_key = 20;
            c.resumable.max_incomplete_bytes_per_key = 1 << 30;
        })
        .start()
        .await
}

#[tokio::test]
async fn the_limits_of_a_public_key_are_public_and_cacheable() {
    let app = app().await;
    let path = format!("/api/v2/limits?publicKey={}", app.public_key);
    let reply = TestApp::reply(app.get(&app.url(&path)).await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "public, max-age=60");
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    insta::assert_json_snapshot!(reply.body, @r#"
    {
      "maxVersionsPerFile": 7,
      "resumable": {
        "maxIncompleteBytesPerKey": 1073741824,
        "maxIncompletePerKey": 20,
        "path": "/api/v2/files/upload/resumable",
        "ttlSecs": 3600
      },
      "serverTime": 1767225600,
      "sizeLimits": [
        {
          "class": "video",
          "maxBytes": 52428800,
          "mimeTypes": "video/*"
        },
        {
          "class": "other",
          "maxBytes": 5242880,
          "mimeTypes": "*/*"
        }
      ],
      "token": {
        "clockLeewaySecs": 30,
        "maxLifetimeSecs": 3600,
        "maxV1ExpireSecs": 3600
      }
    }
    "#);
}

#[tokio::test]
async fn the_limits_need_a_live_public_key() {
    let app = app().await;
    for (query, status, message, code) in [
        (
            "",
            400,
            "Your request is missing publicKey parameter.",
            "PARAM_MISSING",
        ),
        (
            "?publicKey=",
            400,
            "Your request is missing publicKey parameter.",
            "PARAM_MISSING",
        ),
        (
            "?publicKey=public_nobody",
            403,
            "Your account cannot be authenticated.",
            "KEY_UNKNOWN",
        ),
        // The private key is not a public key.
        (
            &*format!("?publicKey={}", app.private_key),
            403,
            "Your account cannot be authenticated.",
            "KEY_UNKNOWN",
        ),
    ] {
        let reply =
            TestApp::reply(app.get(&app.url(&format!("/api/v2/limits{query}"))).await).await;
        reply.assert_error(status, message).assert_code(code);
    }
}

#[tokio::test]
async fn without_resumable_uploads_the_limits_say_so() {
    let app = TestApp::builder()
        .config(|c| c.resumable.enabled = false)
        .start()
        .await;
    let path = format!("/api/v2/limits?publicKey={}", app.public_key);
    let reply = TestApp::reply(app.get(&app.url(&path)).await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["resumable"].is_null(), "{}", reply.body);
    // The system clock, when no test clock is set.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let server_time = reply.body["serverTime"].as_i64().expect("serverTime");
    assert!((server_time - now).abs() <= 5, "{server_time} vs {now}");
}
