//! Phase P over HTTP (spec §3; Appendix A items 10–12, 14, 17).

use crate::harness::{fixture, form, form_with_file, TestApp};

#[tokio::test]
async fn file_names_are_sanitised() {
    let app = TestApp::start().await;
    let body = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "my photo (1).jpg"),
                ("useUniqueFileName", "false"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["name"], "my_photo__1_.jpg");
    assert_eq!(
        body["url"],
        format!("{}/default/my_photo__1_.jpg", app.base)
    );
    let body = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "café.jpg"), ("useUniqueFileName", "false")],
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["name"], "café.jpg");
    assert_eq!(body["url"], format!("{}/default/caf%C3%A9.jpg", app.base));
}

#[tokio::test]
async fn folders_are_normalised_and_bounded() {
    let app = TestApp::start().await;
    let body = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("folder", "a//b/"),
                ("useUniqueFileName", "false"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["filePath"], "/a/b/a.jpg");
    let deep = vec!["d"; 51].join("/");
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("folder", &deep)],
    )
    .await
    .assert_error(400, "Your request contains invalid folder parameter.");
    let deep = vec!["d"; 50].join("/");
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("folder", &deep)],
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn tags_rules() {
    let app = TestApp::start().await;
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("tags", "50%,off")],
    )
    .await
    .assert_error(400, "Your request contains invalid tags parameter.");
    let long = "x".repeat(501);
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("tags", &long)],
    )
    .await
    .assert_error(400, "Your request contains invalid tags parameter.");
    let ok = format!("{},{}", "x".repeat(250), "y".repeat(250));
    let body = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("tags", &ok),
                ("responseFields", "tags"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["tags"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn response_fields_add_exactly_what_was_asked() {
    let app = TestApp::start().await;
    let plain = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), ("tags", "t1")],
        )
        .await
        .assert_ok()
        .clone();
    for key in [
        "tags",
        "isPrivateFile",
        "customCoordinates",
        "customMetadata",
        "isPublished",
    ] {
        assert!(
            plain.get(key).is_none(),
            "{key} present without responseFields"
        );
    }
    assert!(plain["AITags"].is_null());
    let asked = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("tags", "t1,t2"),
                ("responseFields", "tags,isPrivateFile"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    let mut extra: Vec<&str> = asked
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| plain.get(k.as_str()).is_none())
        .map(String::as_str)
        .collect();
    extra.sort_unstable();
    assert_eq!(extra, ["isPrivateFile", "tags"]);
    assert_eq!(asked["tags"], serde_json::json!(["t1", "t2"]));
    assert_eq!(asked["isPrivateFile"], false);

    let all = app
        .upload(
            fixture("photo-exif.jpg"),
            &[
                ("fileName", "b.jpg"),
                ("customCoordinates", "10,10,100,100"),
                ("description", "A summer dress"),
                ("responseFields", "tags,customCoordinates,isPrivateFile,isPublished,customMetadata,embeddedMetadata"),
            ],
        )
        .await
        .assert_ok()
        .clone();
    assert!(all["tags"].is_null());
    assert_eq!(all["customCoordinates"], "10,10,100,100");
    assert_eq!(all["isPublished"], true);
    assert_eq!(all["customMetadata"], serde_json::json!({}));
    assert_eq!(all["description"], "A summer dress");
    assert_eq!(all["embeddedMetadata"]["Make"], "Folio Test Cam");
    assert_eq!(all["orientation"], 6);
}

#[tokio::test]
async fn bad_values_get_their_parameter_message() {
    let app = TestApp::start().await;
    for (field, value) in [
        ("useUniqueFileName", "yes"),
        ("isPrivateFile", "1"),
        ("isPublished", "no"),
        ("overwriteFile", "maybe"),
        ("customCoordinates", "10,10,100"),
    ] {
        app.upload(
            fixture("tiny.jpg"),
            &[("fileName", "a.jpg"), (field, value)],
        )
        .await
        .assert_error(
            400,
            &format!("Your request contains invalid {field} parameter."),
        );
    }
    app.upload(fixture("tiny.jpg"), &[])
        .await
        .assert_error(400, "Your request is missing fileName parameter.");
    app.upload(fixture("tiny.jpg"), &[("fileName", "")])
        .await
        .assert_error(400, "Your request is missing fileName parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn parameters_of_a_later_issue_are_refused_not_ignored() {
    let app = TestApp::start().await;
    // `extensions` and `webhookUrl` are implemented now (tests/it/extensions.rs): a bad value
    // gets its parameter's message, never silence.
    for field in ["extensions", "webhookUrl"] {
        app.upload(fixture("tiny.jpg"), &[("fileName", "a.jpg"), (field, "x")])
            .await
            .assert_error(
                400,
                &format!("Your request contains invalid {field} parameter."),
            );
    }
    // empty means absent (spec §3.1)
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("checks", "")],
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn repeated_fields_are_refused() {
    let app = TestApp::start().await;
    let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg"), ("tags", "a")])
        .text("tags", "b");
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_error(400, "Your request contains invalid tags parameter.");
    let form = form_with_file(fixture("tiny.jpg"), &[("fileName", "a.jpg")]).part(
        "file",
        reqwest::multipart::Part::bytes(fixture("tiny.jpg")).file_name("b.jpg"),
    );
    app.post("/api/v2/files/upload", form, Some(&app.basic()))
        .await
        .assert_error(400, "Your request contains invalid file parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn file_as_base64_text_in_every_accepted_form() {
    use base64::Engine;
    let app = TestApp::start().await;
    let bytes = fixture("alpha.png");
    let plain = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let with_breaks: String = plain
        .as_bytes()
        .chunks(60)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let data_uri = format!("data:image/png;base64,{plain}");
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
    for text in [plain, with_breaks, data_uri, url_safe] {
        let body = app
            .post(
                "/api/v2/files/upload",
                form(&[("fileName", "b64.png"), ("file", &text)]),
                Some(&app.basic()),
            )
            .await
            .assert_ok()
            .clone();
        assert_eq!(body["size"], bytes.len());
        assert_eq!(
            (body["width"].clone(), body["height"].clone()),
            (300.into(), 200.into())
        );
        let served = app
            .get(body["url"].as_str().expect("url"))
            .await
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(served.as_ref(), bytes.as_slice());
    }
    app.post(
        "/api/v2/files/upload",
        form(&[("fileName", "x.png"), ("file", "not base64!")]),
        Some(&app.basic()),
    )
    .await
    .assert_error(400, "Your request contains invalid file parameter.");
    app.post(
        "/api/v2/files/upload",
        // A URL is fetched (tests/it/fetch.rs); a private address is refused by default.
        form(&[("fileName", "x.png"), ("file", "https://10.0.0.1/a.png")]),
        Some(&app.basic()),
    )
    .await
    .assert_error(400, "Your request contains invalid file parameter.");
    app.assert_no_orphan_blobs(4).await;
}

#[tokio::test]
async fn urlencoded_bodies_are_accepted() {
    use base64::Engine;
    let app = TestApp::start().await;
    let bytes = fixture("tiny.jpg");
    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .form(&[("fileName", "f.jpg"), ("file", text.as_str())])
        .send()
        .await
        .expect("send");
    let reply = TestApp::reply(response).await;
    assert_eq!(reply.assert_ok()["size"], bytes.len());
}

#[tokio::test]
async fn missing_or_empty_file() {
    let app = TestApp::start().await;
    app.post(
        "/api/v2/files/upload",
        form(&[("fileName", "a.jpg")]),
        Some(&app.basic()),
    )
    .await
    .assert_error(400, "Your request is missing file parameter.");
    app.upload(Vec::new(), &[("fileName", "a.jpg")])
        .await
        .assert_error(400, "Your request is missing file parameter.");
    let response = app
        .client
        .post(app.url("/api/v2/files/upload"))
        .header("Authorization", app.basic())
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("send");
    TestApp::reply(response)
        .await
        .assert_error(400, "Your request is missing file parameter.");
    app.assert_no_orphan_blobs(0).await;
}

#[tokio::test]
async fn files_over_the_limit_are_refused_and_leave_nothing() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.max_file_size = 100_000;
            c.limits.max_video_size = 200_000;
        })
        .start()
        .await;
    let too_big = vec![7u8; 100_001];
    app.upload(too_big, &[("fileName", "big.bin")])
        .await
        .assert_error(
            400,
            "Your request contains invalid file parameter. The file size exceeds limits.",
        );
    app.upload(vec![7u8; 100_000], &[("fileName", "ok.bin")])
        .await
        .assert_ok();
    // a video has the larger limit: its class is known from its first bytes
    let mut video = fixture("video.mp4");
    video.resize(150_000, 0);
    let body = app
        .upload(video.clone(), &[("fileName", "v.mp4")])
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["fileType"], "non-image");
    video.resize(200_001, 0);
    app.upload(video, &[("fileName", "v.mp4")])
        .await
        .assert_error(
            400,
            "Your request contains invalid file parameter. The file size exceeds limits.",
        );
    // far beyond the transport cap: refused without reading it all
    app.upload(vec![0u8; 2_000_000], &[("fileName", "huge.bin")])
        .await
        .assert_error(
            400,
            "Your request contains invalid file parameter. The file size exceeds limits.",
        );
    app.assert_no_orphan_blobs(2).await;
}
