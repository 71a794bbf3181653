//! Custom metadata fields API (spec §9.2) and `customMetadata` on upload (spec §9.3, E2).

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{fixture, Reply, TestApp};

const FIELDS: &str = "/v1/customMetadataFields";
const INVALID_CM: &str = "Invalid custom metadata.";

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("Authorization", app.basic());
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::reply(request.send().await.expect("request")).await
}

async fn create(app: &TestApp, body: Value) -> Reply {
    call(app, Method::POST, FIELDS, Some(body)).await
}

async fn created(app: &TestApp, name: &str, schema: Value) -> String {
    let reply = create(app, json!({"name": name, "label": name, "schema": schema})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn auth_is_basic_with_the_private_key() {
    let app = TestApp::start().await;
    let reply = TestApp::reply(
        app.client
            .get(app.url(FIELDS))
            .send()
            .await
            .expect("request"),
    )
    .await;
    reply.assert_error(401, "Your request does not contain private API key.");
    let reply = TestApp::reply(
        app.client
            .post(app.url(FIELDS))
            .basic_auth("private_nope", Some(""))
            .json(&json!({}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    reply.assert_error(403, "Your account cannot be authenticated.");
}

#[tokio::test]
async fn create_list_update_delete() {
    let app = TestApp::start().await;
    let reply = create(
        &app,
        json!({"name": "price", "label": "Price", "description": "in cents",
               "schema": {"type": "Number", "minValue": 1000, "maxValue": 3000}}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(
        reply.body,
        json!({"id": id, "name": "price", "label": "Price", "description": "in cents",
               "schema": {"type": "Number", "minValue": 1000, "maxValue": 3000}})
    );
    // TextArea in any case is accepted, Textarea is emitted.
    let reply = create(
        &app,
        json!({"name": "notes", "label": "Notes", "schema": {"type": "TEXTAREA"}}),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["schema"], json!({"type": "Textarea"}));
    assert!(reply.body.get("description").is_none());
    let notes = reply.body["id"].as_str().expect("id").to_owned();

    create(
        &app,
        json!({"name": "price", "label": "Other", "schema": {"type": "Text"}}),
    )
    .await
    .assert_error(
        400,
        "A custom metadata field with this name already exists.",
    );
    create(
        &app,
        json!({"name": "cost", "label": "Price", "schema": {"type": "Text"}}),
    )
    .await
    .assert_error(
        400,
        "A custom metadata field with this label already exists.",
    );

    let list = call(&app, Method::GET, FIELDS, None).await;
    assert_eq!(list.status, 200);
    // Oldest first; two fields made in the same millisecond come in either order.
    let mut names: Vec<String> = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["notes", "price"]);

    // PATCH
    let path = format!("{FIELDS}/{id}");
    let reply = call(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"label": "Cost", "schema": {"type": "Text", "minValue": 1}})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["label"], "Cost");
    assert_eq!(
        reply.body["schema"],
        json!({"type": "Number", "minValue": 1})
    );
    call(&app, Method::PATCH, &path, Some(json!({})))
        .await
        .assert_error(400, "Either label or schema should be provided.");
    call(&app, Method::PATCH, &path, Some(json!({"name": "x"})))
        .await
        .assert_error(400, "Name cannot be updated.");
    let reply = call(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"schema": {"minLength": 3}})),
    )
    .await;
    reply.assert_error(400, "Invalid schema object.");
    assert_eq!(
        reply.body["errors"]["minLength"],
        "not allowed for this type"
    );
    call(&app, Method::PATCH, &path, Some(json!({"label": "Notes"})))
        .await
        .assert_error(
            400,
            "A custom metadata field with this label already exists.",
        );
    call(
        &app,
        Method::PATCH,
        &format!("{FIELDS}/0123456789abcdef01234567"),
        Some(json!({"label": "x"})),
    )
    .await
    .assert_error(404, "No such custom metadata field exists.");
    call(
        &app,
        Method::PATCH,
        &format!("{FIELDS}/nope"),
        Some(json!({"label": "x"})),
    )
    .await
    .assert_error(400, "Your request contains invalid ID parameter.");
    call(
        &app,
        Method::PATCH,
        &format!("{FIELDS}/"),
        Some(json!({"label": "x"})),
    )
    .await
    .assert_error(400, "Missing id parameter.");

    // DELETE
    let reply = call(&app, Method::DELETE, &format!("{FIELDS}/{notes}"), None).await;
    assert_eq!((reply.status, &reply.body), (204, &Value::Null));
    call(&app, Method::DELETE, &format!("{FIELDS}/{notes}"), None)
        .await
        .assert_error(404, "No such custom metadata field exists.");
    call(&app, Method::DELETE, &format!("{FIELDS}/xyz"), None)
        .await
        .assert_error(400, "Your request contains invalid ID parameter.");
    call(
        &app,
        Method::PATCH,
        &format!("{FIELDS}/{notes}"),
        Some(json!({"label": "N"})),
    )
    .await
    .assert_error(400, "Cannot update a deleted custom metadata fields.");
    // The name stays reserved; the label is free.
    create(
        &app,
        json!({"name": "notes", "label": "N2", "schema": {"type": "Text"}}),
    )
    .await
    .assert_error(
        400,
        "A custom metadata field with this name already exists.",
    );
    let reply = create(
        &app,
        json!({"name": "notes2", "label": "Notes", "schema": {"type": "Text"}}),
    )
    .await;
    assert_eq!(reply.status, 201);

    let live = call(&app, Method::GET, FIELDS, None).await;
    assert_eq!(live.body.as_array().expect("array").len(), 2);
    let all = call(
        &app,
        Method::GET,
        &format!("{FIELDS}?includeDeleted=true"),
        None,
    )
    .await;
    assert_eq!(all.body.as_array().expect("array").len(), 3);
    let live = call(
        &app,
        Method::GET,
        &format!("{FIELDS}?includeDeleted=false"),
        None,
    )
    .await;
    assert_eq!(live.body.as_array().expect("array").len(), 2);
}

#[tokio::test]
async fn invalid_field_objects_list_their_problems() {
    let app = TestApp::start().await;
    let cases = [
        (json!({"type": "Json"}), "type"),
        (json!({"type": "Number", "minValue": "5"}), "minValue"),
        (json!({"type": "Text", "minValue": 5}), "minValue"),
        (json!({"type": "Number", "maxLength": 5}), "maxLength"),
        (json!({"type": "SingleSelect"}), "selectOptions"),
        (
            json!({"type": "Text", "selectOptions": ["a"]}),
            "selectOptions",
        ),
        (
            json!({"type": "Boolean", "defaultValue": "yes"}),
            "defaultValue",
        ),
        (
            json!({"type": "Text", "maxLength": 2, "defaultValue": "abc"}),
            "defaultValue",
        ),
        (
            json!({"type": "SingleSelect", "selectOptions": ["a"], "defaultValue": "b"}),
            "defaultValue",
        ),
        (
            json!({"type": "Text", "isValueRequired": true}),
            "defaultValue",
        ),
    ];
    for (i, (schema, key)) in cases.into_iter().enumerate() {
        let reply = create(
            &app,
            json!({"name": format!("f{i}"), "label": format!("f{i}"), "schema": schema}),
        )
        .await;
        reply.assert_error(400, "Invalid field object");
        assert!(
            reply.body["errors"][key].is_string(),
            "{schema}: {}",
            reply.body
        );
    }
    let reply = create(&app, json!({"label": "x", "schema": {"type": "Text"}})).await;
    reply.assert_error(400, "Invalid field object");
    assert_eq!(reply.body["errors"]["name"], "is required");
}

async fn upload_cm(app: &TestApp, cm: Value, extra: &[(&str, &str)]) -> Reply {
    let cm = cm.to_string();
    let mut fields = vec![
        ("fileName", "a.jpg"),
        ("customMetadata", cm.as_str()),
        ("responseFields", "customMetadata"),
    ];
    fields.extend_from_slice(extra);
    app.upload(fixture("tiny.jpg"), &fields).await
}

#[tokio::test]
async fn upload_values_are_validated_by_type() {
    let app = TestApp::start().await;
    created(
        &app,
        "brand",
        json!({"type": "Text", "minLength": 2, "maxLength": 5}),
    )
    .await;
    created(
        &app,
        "price",
        json!({"type": "Number", "minValue": 10, "maxValue": 20}),
    )
    .await;
    created(
        &app,
        "launch",
        json!({"type": "Date", "minValue": "2020-01-01", "maxValue": "2030-01-01"}),
    )
    .await;
    created(&app, "featured", json!({"type": "Boolean"})).await;
    created(
        &app,
        "size",
        json!({"type": "SingleSelect", "selectOptions": ["S", "M", 3]}),
    )
    .await;
    created(
        &app,
        "colors",
        json!({"type": "MultiSelect", "selectOptions": ["red", "blue"]}),
    )
    .await;

    let ok = json!({"brand": "Nike", "price": 12.5, "launch": "2024-05-01T10:00:00",
                    "featured": true, "size": 3, "colors": ["red", "blue"]});
    let reply = upload_cm(&app, ok.clone(), &[]).await;
    assert_eq!(reply.assert_ok()["customMetadata"], ok);

    let bad: &[(Value, &str)] = &[
        (json!({"brand": 5}), "brand"),
        (json!({"brand": "N"}), "brand"),
        (json!({"brand": "Adidas"}), "brand"),
        (json!({"price": "12"}), "price"),
        (json!({"price": 9}), "price"),
        (json!({"price": 21}), "price"),
        (json!({"launch": "tomorrow"}), "launch"),
        (json!({"launch": "2019-12-31"}), "launch"),
        (json!({"featured": "true"}), "featured"),
        (json!({"size": "L"}), "size"),
        (json!({"size": "3"}), "size"),
        (json!({"colors": "red"}), "colors"),
        (json!({"colors": ["red", "green"]}), "colors"),
        (json!({"unknown": 1}), "unknown"),
    ];
    for (cm, key) in bad {
        let reply = upload_cm(&app, cm.clone(), &[]).await;
        reply.assert_error(400, INVALID_CM);
        assert!(
            reply.body["errors"][key].is_string(),
            "{cm}: {}",
            reply.body
        );
    }
    assert_eq!(
        upload_cm(&app, json!({"unknown": 1}), &[]).await.body["errors"]["unknown"],
        "not a defined custom metadata field"
    );
    // null means not provided.
    let reply = upload_cm(&app, json!({"brand": null}), &[]).await;
    assert_eq!(reply.assert_ok()["customMetadata"], json!({}));
    // P5: not an object.
    app.upload(
        fixture("tiny.jpg"),
        &[("fileName", "a.jpg"), ("customMetadata", "[1]")],
    )
    .await
    .assert_error(
        400,
        "Your request contains invalid customMetadata parameter.",
    );
}

#[tokio::test]
async fn defaults_required_fields_and_deleted_fields() {
    let app = TestApp::start().await;
    created(&app, "brand", json!({"type": "Text"})).await;
    created(
        &app,
        "tier",
        json!({"type": "Text", "isValueRequired": true, "defaultValue": "basic"}),
    )
    .await;
    let stock = created(&app, "stock", json!({"type": "Number", "defaultValue": 0})).await;

    let reply = upload_cm(&app, json!({"brand": "Nike"}), &[]).await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"brand": "Nike", "tier": "basic", "stock": 0})
    );
    // Without the parameter, defaults still apply.
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[("fileName", "b.jpg"), ("responseFields", "customMetadata")],
        )
        .await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"tier": "basic", "stock": 0})
    );
    let reply = upload_cm(&app, json!({"tier": "gold"}), &[]).await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"tier": "gold", "stock": 0})
    );

    // Deleted: not settable, dropped from responses.
    let reply = call(&app, Method::DELETE, &format!("{FIELDS}/{stock}"), None).await;
    assert_eq!(reply.status, 204);
    upload_cm(&app, json!({"stock": 1}), &[])
        .await
        .assert_error(400, INVALID_CM);
    let reply = upload_cm(&app, json!({}), &[]).await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"tier": "basic"})
    );
}

#[tokio::test]
async fn overwrite_keeps_or_replaces_custom_metadata() {
    let app = TestApp::start().await;
    created(&app, "brand", json!({"type": "Text"})).await;
    created(&app, "color", json!({"type": "Text"})).await;
    let same = [("useUniqueFileName", "false")];
    upload_cm(&app, json!({"brand": "Nike", "color": "red"}), &same)
        .await
        .assert_ok();
    // overwriteCustomMetadata=false and no parameter: copied.
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("overwriteCustomMetadata", "false"),
                ("responseFields", "customMetadata"),
            ],
        )
        .await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"brand": "Nike", "color": "red"})
    );
    // With the parameter: the request's values, whatever the flag.
    let reply = upload_cm(
        &app,
        json!({"color": "blue"}),
        &[
            ("useUniqueFileName", "false"),
            ("overwriteCustomMetadata", "false"),
        ],
    )
    .await;
    assert_eq!(
        reply.assert_ok()["customMetadata"],
        json!({"color": "blue"})
    );
    // Default (true) and no parameter: removed.
    let reply = app
        .upload(
            fixture("tiny.jpg"),
            &[
                ("fileName", "a.jpg"),
                ("useUniqueFileName", "false"),
                ("responseFields", "customMetadata"),
            ],
        )
        .await;
    assert_eq!(reply.assert_ok()["customMetadata"], json!({}));
}

#[tokio::test]
async fn checks_on_a_number_custom_field() {
    let app = TestApp::start().await;
    created(&app, "price", json!({"type": "Number"})).await;
    let checks = [("checks", r#""request.customMetadata.price" > 200"#)];
    upload_cm(&app, json!({"price": 250}), &checks)
        .await
        .assert_ok();
    upload_cm(&app, json!({"price": 150}), &checks)
        .await
        .assert_error(400, "Your request failed 'checks' validation.");
    // Not set: the comparison is false.
    upload_cm(&app, json!({}), &checks)
        .await
        .assert_error(400, "Your request failed 'checks' validation.");
    // A string literal on a Number field, or an unknown field: syntax errors.
    for bad in [
        r#""request.customMetadata.price" : "2""#,
        r#""request.customMetadata.nope" = 1"#,
    ] {
        upload_cm(&app, json!({"price": 250}), &[("checks", bad)])
            .await
            .assert_error(
                400,
                "Your request contains invalid syntax for the checks parameter.",
            );
    }
}
