//! `GET /v1/files` — list and search (spec §8.9, media-api §2–§3), over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::harness::{fixture, solid_png, Reply, TestApp};

/// `filePath`s (folders as `d:<folderPath>`, older versions as `v:<filePath>`) of a list reply.
fn paths(reply: &Reply) -> Vec<String> {
    let items = reply.assert_ok().as_array().expect("a bare JSON array");
    items
        .iter()
        .map(|item| match item["type"].as_str() {
            Some("folder") => format!("d:{}", item["folderPath"].as_str().unwrap_or_default()),
            Some("file-version") => format!("v:{}", item["filePath"].as_str().unwrap_or_default()),
            _ => item["filePath"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

async fn list(app: &TestApp, query: &str) -> Vec<String> {
    paths(
        &app.api(Method::GET, &format!("/v1/files?{query}"), None)
            .await,
    )
}

/// `searchQuery` results, sorted by name.
async fn search(app: &TestApp, query: &str) -> Vec<String> {
    let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    list(app, &format!("sort=ASC_NAME&searchQuery={encoded}")).await
}

/// A library of four files (one with two versions) in three folders:
/// `/a/b/red_car.png` (uploaded as `red car.png`; 10×10, tags red+car, brand Acme, price 12), `/a/b/blue_sky.png`
/// (300×200, tag blue), `/x/cv.pdf` (non-image), `/notes.txt` (private).
async fn library() -> TestApp {
    let app = TestApp::start().await;
    for (name, schema) in [
        ("brand", json!({"type": "Text"})),
        ("price", json!({"type": "Number"})),
    ] {
        let reply = TestApp::reply(
            app.client
                .post(app.url("/v1/customMetadataFields"))
                .header("Authorization", app.basic())
                .json(&json!({"name": name, "label": name, "schema": schema}))
                .send()
                .await
                .expect("create field"),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let fixed = |name: &'static str, folder: &'static str| {
        vec![
            ("fileName", name),
            ("folder", folder),
            ("useUniqueFileName", "false"),
        ]
    };
    let mut red = fixed("red car.png", "/a/b");
    red.extend([
        ("tags", "red,car"),
        ("customMetadata", r#"{"brand": "Acme", "price": 12}"#),
    ]);
    app.upload(solid_png(10, 10), &red).await.assert_ok();
    let mut blue = fixed("blue_sky.png", "/a/b");
    blue.push(("tags", "blue"));
    app.upload(solid_png(300, 200), &blue).await.assert_ok();
    app.upload(fixture("document.pdf"), &fixed("cv.pdf", "/x"))
        .await
        .assert_ok();
    let mut notes = fixed("notes.txt", "/");
    notes.push(("isPrivateFile", "true"));
    app.upload(b"hello world".to_vec(), &notes)
        .await
        .assert_ok();
    // A second version of the red car (tags and custom metadata kept).
    let mut again = fixed("red car.png", "/a/b");
    again.extend([
        ("overwriteTags", "false"),
        ("overwriteCustomMetadata", "false"),
    ]);
    app.upload(solid_png(10, 10), &again).await.assert_ok();
    app
}

#[tokio::test]
async fn auth_is_basic_with_the_private_key() {
    let app = TestApp::start().await;
    let reply = TestApp::reply(
        app.client
            .get(app.url("/v1/files"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    reply.assert_error(401, "Your request does not contain private API key.");
    let reply = TestApp::reply(
        app.client
            .get(app.url("/v1/files?limit=0"))
            .basic_auth("private_nope", Some("do_not_set"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    // Authentication comes before the parameters.
    reply.assert_error(403, "Your account cannot be authenticated.");
    let reply = TestApp::reply(
        app.client
            .get(app.url("/v1/files"))
            .basic_auth(&app.public_key, Some(""))
            .send()
            .await
            .expect("get"),
    )
    .await;
    reply.assert_error(403, "Your account cannot be authenticated.");
    // An empty library is an empty array.
    assert_eq!(
        app.api(Method::GET, "/v1/files", None).await.assert_ok(),
        &json!([])
    );
}

#[tokio::test]
async fn the_items_are_file_details_and_folders() {
    let app = library().await;
    let reply = app
        .api(
            Method::GET,
            "/v1/files?sort=ASC_NAME&type=all&path=/a/b",
            None,
        )
        .await;
    let items = reply.assert_ok().as_array().expect("array").clone();
    assert_eq!(items.len(), 2);
    let red = &items[1];
    assert_eq!(red["name"], "red_car.png");
    assert_eq!(
        red["url"],
        format!("{}/a/b/red_car.png", app.url_endpoint())
    );
    assert_eq!(red["tags"], json!(["red", "car"]));
    assert_eq!(red["versionInfo"]["name"], "Version 2");
    insta::assert_json_snapshot!(red, {
        ".fileId" => "[id]",
        ".versionInfo.id" => "[id]",
        ".url" => "[url]",
        ".thumbnail" => "[url]",
        ".createdAt" => "[time]",
        ".updatedAt" => "[time]",
    });
    let folders = app
        .api(Method::GET, "/v1/files?type=folder&path=/a", None)
        .await;
    let folder = &folders.assert_ok()[0];
    insta::assert_json_snapshot!(folder, {
        ".folderId" => "[id]",
        ".createdAt" => "[time]",
        ".updatedAt" => "[time]",
    });
    // The trailing-slash form answers the same.
    assert_eq!(
        paths(&app.api(Method::GET, "/v1/files/?sort=ASC_NAME", None).await),
        list(&app, "sort=ASC_NAME").await
    );
}

#[tokio::test]
async fn each_parameter() {
    let app = library().await;
    let all_files = [
        "/a/b/red_car.png",
        "/a/b/blue_sky.png",
        "/x/cv.pdf",
        "/notes.txt",
    ];
    // Default: current files, oldest first.
    assert_eq!(list(&app, "").await, all_files);
    assert_eq!(list(&app, "type=file&sort=ASC_CREATED").await, all_files);
    assert_eq!(
        list(&app, "sort=DESC_CREATED").await,
        all_files.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        list(&app, "sort=ASC_NAME").await,
        [
            "/a/b/blue_sky.png",
            "/x/cv.pdf",
            "/notes.txt",
            "/a/b/red_car.png"
        ]
    );
    assert_eq!(
        list(&app, "sort=DESC_NAME").await,
        [
            "/a/b/red_car.png",
            "/notes.txt",
            "/x/cv.pdf",
            "/a/b/blue_sky.png"
        ]
    );
    assert_eq!(list(&app, "sort=DESC_SIZE&limit=1").await.len(), 1);
    assert_eq!(list(&app, "sort=DESC_WIDTH").await[0], "/a/b/blue_sky.png");
    assert_eq!(list(&app, "sort=DESC_HEIGHT").await[0], "/a/b/blue_sky.png");
    assert_eq!(
        list(&app, "sort=ASC_WIDTH")
            .await
            .last()
            .map(String::as_str),
        Some("/a/b/blue_sky.png")
    );
    assert_eq!(list(&app, "sort=ASC_HEIGHT").await.len(), 4);
    assert_eq!(list(&app, "sort=ASC_SIZE").await.len(), 4);
    // The second red car moved its updatedAt.
    assert_eq!(list(&app, "sort=DESC_UPDATED").await[0], "/a/b/red_car.png");
    assert_eq!(list(&app, "sort=ASC_UPDATED").await.len(), 4);
    // type
    assert_eq!(
        list(&app, "type=file-version").await,
        ["v:/a/b/red_car.png"]
    );
    assert_eq!(
        list(&app, "type=folder&sort=ASC_NAME").await,
        ["d:/a", "d:/a/b", "d:/x"]
    );
    assert_eq!(
        list(&app, "type=all&path=/&sort=ASC_NAME").await,
        ["d:/a", "/notes.txt", "d:/x"]
    );
    // path: that folder only
    assert_eq!(
        list(&app, "path=/a/b/&sort=ASC_NAME").await,
        ["/a/b/blue_sky.png", "/a/b/red_car.png"]
    );
    assert_eq!(list(&app, "path=a").await, Vec::<String>::new());
    // fileType
    assert_eq!(
        list(&app, "fileType=image&sort=ASC_NAME").await,
        ["/a/b/blue_sky.png", "/a/b/red_car.png"]
    );
    assert_eq!(
        list(&app, "fileType=non-image&sort=ASC_NAME").await,
        ["/x/cv.pdf", "/notes.txt"]
    );
    assert_eq!(list(&app, "fileType=all").await.len(), 4);
    // limit and skip
    assert_eq!(list(&app, "limit=2").await, all_files[..2]);
    assert_eq!(list(&app, "limit=2&skip=2").await, all_files[2..]);
    assert_eq!(list(&app, "skip=4").await, Vec::<String>::new());
    assert_eq!(list(&app, "limit=1000&skip=0").await, all_files);
    // legacy tags (Python 4.x joins with ", ") and name
    assert_eq!(
        list(&app, "tags=car,+blue&sort=ASC_NAME").await,
        ["/a/b/blue_sky.png", "/a/b/red_car.png"]
    );
    assert_eq!(list(&app, "tags=nope").await, Vec::<String>::new());
    assert_eq!(list(&app, "name=red_car.png").await, ["/a/b/red_car.png"]);
    // includeFolder
    assert_eq!(
        list(&app, "includeFolder=true&path=/&sort=ASC_NAME").await,
        ["d:/a", "/notes.txt", "d:/x"]
    );
    // searchQuery overrides type, tags and name; `+` is a space.
    assert_eq!(
        list(
            &app,
            "type=folder&tags=blue&name=x&searchQuery=name+%3D+%22red_car.png%22"
        )
        .await,
        ["/a/b/red_car.png"]
    );
}

#[tokio::test]
async fn bad_parameters_get_the_exact_messages() {
    let app = TestApp::start().await;
    for (query, message) in [
        ("skip=-1", "The value of skip parameter should be greater than or equal to 0. Value sent is -1."),
        ("limit=0", "Minimum value of limit parameter is 1. Value sent is 0."),
        ("limit=-3", "Minimum value of limit parameter is 1. Value sent is -3."),
        ("limit=1001", "Maximum value of limit parameter is 1000. Value sent is 1001."),
        ("sort=ASC_COLOUR", "Your request contains invalid value for sort parameters."),
        ("sort=asc_name", "Your request contains invalid value for sort parameters."),
        ("type=files", "Your request contains invalid value for type parameter. Please provide one of the following: file, file-version, folder, all."),
        ("limit=many", "Your request contains invalid limit parameter."),
        ("skip=x", "Your request contains invalid skip parameter."),
        ("fileType=video", "Your request contains invalid fileType parameter."),
        ("includeFolder=maybe", "Your request contains invalid includeFolder parameter."),
    ] {
        let reply = app.api(Method::GET, &format!("/v1/files?{query}"), None).await;
        reply.assert_error(400, message);
        assert_eq!(reply.headers["x-should-retry"], "false", "{query}");
    }
}

#[tokio::test]
async fn every_search_field_and_operator() {
    let app = library().await;
    let none: Vec<&str> = vec![];
    for (query, wanted) in [
        ("name = 'cv.pdf'", vec!["/x/cv.pdf"]),
        (
            "name NOT = 'cv.pdf' AND path = '/a/b'",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        ("name : 'red'", vec!["/a/b/red_car.png"]),
        ("name : 'Red'", none.clone()),
        (
            "name IN ['cv.pdf', 'notes.txt']",
            vec!["/x/cv.pdf", "/notes.txt"],
        ),
        (
            "name NOT IN ['cv.pdf', 'notes.txt']",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        ("name HAS 'SKY'", vec!["/a/b/blue_sky.png"]),
        ("name HAS 'red c'", vec!["/a/b/red_car.png"]),
        ("name HAS 'car png'", vec!["/a/b/red_car.png"]),
        ("name HAS 'ar'", none.clone()),
        (
            "tags IN ['red', 'blue']",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        (
            "tags NOT IN ['red']",
            vec!["/a/b/blue_sky.png", "/x/cv.pdf", "/notes.txt"],
        ),
        ("tags EXISTS", vec!["/a/b/blue_sky.png", "/a/b/red_car.png"]),
        ("tags NOT EXISTS", vec!["/x/cv.pdf", "/notes.txt"]),
        ("type = 'file-version'", vec!["v:/a/b/red_car.png"]),
        ("type IN ['folder'] AND name = 'b'", vec!["d:/a/b"]),
        ("type NOT IN ['file', 'folder']", vec!["v:/a/b/red_car.png"]),
        (
            "createdAt > '1h' AND createdAt <= '2999-12-31'",
            vec![
                "/a/b/blue_sky.png",
                "/x/cv.pdf",
                "/notes.txt",
                "/a/b/red_car.png",
            ],
        ),
        ("createdAt < '2020-01-01T12:12:12'", none.clone()),
        (
            "updatedAt >= '1d'",
            vec![
                "/a/b/blue_sky.png",
                "/x/cv.pdf",
                "/notes.txt",
                "/a/b/red_car.png",
            ],
        ),
        (
            "updatedAt = '2020-01-01' OR createdAt IN ['2020-01-01']",
            none.clone(),
        ),
        (
            "createdAt NOT IN ['2020-01-01'] AND path = '/x'",
            vec!["/x/cv.pdf"],
        ),
        ("height >= 200", vec!["/a/b/blue_sky.png"]),
        ("width < 100", vec!["/a/b/red_car.png"]),
        ("width = 300", vec!["/a/b/blue_sky.png"]),
        (
            "width NOT = 300",
            vec!["/x/cv.pdf", "/notes.txt", "/a/b/red_car.png"],
        ),
        ("width IN [10, 11]", vec!["/a/b/red_car.png"]),
        (
            "width EXISTS",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        (
            "size < '1kb' AND size > 0",
            vec!["/x/cv.pdf", "/notes.txt", "/a/b/red_car.png"],
        ),
        ("size = 11", vec!["/notes.txt"]),
        ("size >= 458 AND size <= '0.5kb'", vec!["/x/cv.pdf"]),
        ("size > 142", vec!["/a/b/blue_sky.png", "/x/cv.pdf"]),
        ("size = 142", vec!["/a/b/red_car.png"]),
        ("size >= 458 AND size <= '0.5kb'", vec!["/x/cv.pdf"]),
        (
            "format = 'png'",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        ("format IN ['pdf', 'txt']", vec!["/x/cv.pdf", "/notes.txt"]),
        ("private = true", vec!["/notes.txt"]),
        (
            "published = true AND private = false",
            vec!["/a/b/blue_sky.png", "/x/cv.pdf", "/a/b/red_car.png"],
        ),
        (
            "transparency = false",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        ("path = '/'", vec!["/notes.txt"]),
        ("path : '/a'", vec!["/a/b/blue_sky.png", "/a/b/red_car.png"]),
        ("path IN ['/x', '/']", vec!["/x/cv.pdf", "/notes.txt"]),
        ("path NOT = '/a/b/'", vec!["/x/cv.pdf", "/notes.txt"]),
        ("videoDuration > 1", none.clone()),
        (
            "videoDuration NOT EXISTS AND path = '/x'",
            vec!["/x/cv.pdf"],
        ),
        (
            "\"customMetadata.brand\" = 'Acme'",
            vec!["/a/b/red_car.png"],
        ),
        ("\"customMetadata.brand\" : 'Ac'", vec!["/a/b/red_car.png"]),
        ("\"customMetadata.price\" >= 12", vec!["/a/b/red_car.png"]),
        (
            "'customMetadata.price' NOT = 12 AND path = '/x/'",
            vec!["/x/cv.pdf"],
        ),
        ("\"customMetadata.price\" EXISTS", vec!["/a/b/red_car.png"]),
        ("\"embeddedMetadata.Keywords\" IN ['summer']", none.clone()),
        (
            "(size < '1mb' AND width > 100) OR (tags IN ['car'])",
            vec!["/a/b/blue_sky.png", "/a/b/red_car.png"],
        ),
        (
            "size < 200 OR name : 'cv' AND private = true",
            vec!["/notes.txt", "/a/b/red_car.png"],
        ),
    ] {
        assert_eq!(search(&app, query).await, wanted, "{query}");
    }
    // `id`: the file's id.
    let items = app.api(Method::GET, "/v1/files?path=/x", None).await;
    let id = items.assert_ok()[0]["fileId"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(search(&app, &format!("id = '{id}'")).await, ["/x/cv.pdf"]);
    assert_eq!(
        search(&app, &format!("id NOT IN ['{id}'] AND path = '/x'")).await,
        none
    );
    assert_eq!(
        search(&app, &format!("id IN ['{id}', 'abc']")).await,
        ["/x/cv.pdf"]
    );
    assert_eq!(
        search(&app, &format!("id NOT = '{id}' AND path = '/x'")).await,
        none
    );
}

#[tokio::test]
async fn bad_queries_say_what_is_wrong() {
    let app = TestApp::start().await;
    for (query, reason) in [
        ("colour = 'red'", "unknown field `colour`"),
        (
            "\"customMetadata.nope\" = 'x'",
            "unknown custom metadata field `nope`",
        ),
        (
            "size : '1mb'",
            "operator `:` is not allowed for field `size`",
        ),
        ("tags = 'a'", "operator `=` is not allowed for field `tags`"),
        ("name = abc", "the value `abc` must be quoted (position 7)"),
        (
            "name = 'a' AND",
            "expected a field name: the query ends too early",
        ),
        ("(name = 'a'", "expected `)`: the query ends too early"),
        (
            "private = 'yes'",
            "wrong value for `private =`: expected unquoted true or false",
        ),
        (
            "createdAt > 'soon'",
            "`soon` is not a date (ISO 8601 such as \"2024-01-31\", or relative such as \"7d\")",
        ),
        ("name = 'unterminated", "unterminated string at position 7"),
    ] {
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        app.api(
            Method::GET,
            &format!("/v1/files?searchQuery={encoded}"),
            None,
        )
        .await
        .assert_error(400, &format!("Invalid search query - {reason}"));
    }
    // Parameters are checked before the query.
    app.api(Method::GET, "/v1/files?limit=0&searchQuery=oops", None)
        .await
        .assert_error(
            400,
            "Minimum value of limit parameter is 1. Value sent is 0.",
        );
}

/// `version_tags` is kept by triggers, so tags written by the media API (details update, bulk
/// add/remove) are searchable at once.
#[tokio::test]
async fn tags_edited_through_the_media_api_are_searchable() {
    let app = library().await;
    let id_of = |reply: &Reply| {
        reply.assert_ok()[0]["fileId"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let cv = id_of(&app.api(Method::GET, "/v1/files?path=/x", None).await);
    let notes = id_of(&app.api(Method::GET, "/v1/files?path=/", None).await);

    app.api(
        Method::PATCH,
        &format!("/v1/files/{cv}/details"),
        Some(json!({"tags": ["paper"]})),
    )
    .await
    .assert_ok();
    assert_eq!(search(&app, "tags IN ['paper']").await, ["/x/cv.pdf"]);

    let reply = app
        .api(
            Method::POST,
            "/v1/files/addTags",
            Some(json!({"fileIds": [cv, notes], "tags": ["todo"]})),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        search(&app, "tags IN ['todo']").await,
        ["/x/cv.pdf", "/notes.txt"]
    );

    let reply = app
        .api(
            Method::POST,
            "/v1/files/removeTags",
            Some(json!({"fileIds": [cv], "tags": ["todo", "paper"]})),
        )
        .await;
    reply.assert_ok();
    assert_eq!(
        search(&app, "tags IN ['todo', 'paper']").await,
        ["/notes.txt"]
    );

    let deleted = app
        .api(Method::DELETE, &format!("/v1/files/{notes}"), None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(search(&app, "tags IN ['todo']").await, Vec::<String>::new());
}
