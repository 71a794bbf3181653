"""The official Python SDK (imagekitio) against Folio, authenticated with the private key
(HTTP Basic `private_key:do_not_set`): v2 and v1 uploads, an overwrite, and the errors the SDK
raises for a wrong key and for a name conflict."""

import re
from importlib.metadata import version

import imagekitio
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, check_uploaded_file, fixture, fixture_path, ok


def sdk(private_key):
    return ImageKit(private_key=private_key, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)


client = sdk(PRIVATE_KEY)
ok(f"imagekitio {version('imagekitio')}")

# v2, file as an open file, lists and booleans serialised by the SDK.
with open(fixture_path("photo-exif.jpg"), "rb") as f:
    raw = client.beta.v2.files.with_raw_response.upload(
        file=f,
        file_name="sdk photo.jpg",
        folder="/python-sdk/v2",
        tags=["summer", "dress"],
        use_unique_file_name=False,
        is_private_file=False,
        response_fields=["tags", "isPrivateFile", "isPublished", "customCoordinates"],
    )
v2 = raw.parse()
request_id = raw.headers.get("x-ik-requestId", "")
assert re.fullmatch(r"[0-9a-f-]{36}", request_id), raw.headers
file = v2.to_dict()
check_uploaded_file(file, fixture_name="photo-exif.jpg", name="sdk_photo.jpg", folder="/python-sdk/v2")
# The typed model parsed the same values.
assert (v2.file_id, v2.version_info.name, v2.file_type) == (file["fileId"], "Version 1", "image")
assert v2.tags == ["summer", "dress"] and v2.is_private_file is False and v2.is_published is True
assert file["customCoordinates"] is None and file["orientation"] == 6, file
ok("beta.v2.files.upload (file, tags list, booleans, response_fields) -> 200, file object and delivered bytes checked")

# Same path again: a new version of the same file.
again = client.beta.v2.files.upload(
    file=fixture("tiny.jpg"), file_name="sdk photo.jpg", folder="/python-sdk/v2", use_unique_file_name=False
).to_dict()
check_uploaded_file(again, fixture_name="tiny.jpg", name="sdk_photo.jpg", folder="/python-sdk/v2", version=2)
assert again["fileId"] == file["fileId"] and again["versionInfo"]["id"] != file["versionInfo"]["id"]
ok("beta.v2.files.upload overwrite -> Version 2 of the same fileId")

# v1 endpoint, file as bytes, default unique name.
v1 = client.files.upload(file=fixture("tiny.jpg"), file_name="tiny.jpg").to_dict()
check_uploaded_file(v1, fixture_name="tiny.jpg", name=re.compile(r"tiny_[A-Za-z0-9_-]{9}\.jpg"))
ok(f"files.upload (v1) -> 200, unique name {v1['name']}")


def expect_error(what, call, error_type, status, message, code, **detail):
    """Runs `call`, expects the SDK's APIStatusError subclass with the server's exact message, and
    Folio's machine `code` (plus any `detail` keys) in the body the SDK parsed."""
    try:
        call()
    except imagekitio.APIStatusError as err:
        assert type(err) is error_type, f"{what}: expected {error_type.__name__}, got {type(err).__name__}: {err}"
        assert err.status_code == status, (what, err.status_code)
        assert isinstance(err.body, dict) and err.body.get("message") == message, (what, err.body)
        assert isinstance(err.body.get("help"), str), (what, err.body)
        assert err.body.get("code") == code, (what, err.body)
        for key, value in detail.items():
            assert err.body.get(key) == value, (what, key, err.body)
        assert message in str(err), (what, str(err))
        ok(f'{what} -> {error_type.__name__} {status} "{message}" {code}')
    else:
        raise AssertionError(f"{what}: no error raised")


wrong = sdk("private_not_a_key_of_this_server")
unauthenticated = "Your account cannot be authenticated."
expect_error(
    "beta.v2.files.upload with a wrong private key",
    lambda: wrong.beta.v2.files.upload(file=fixture("tiny.jpg"), file_name="x.jpg"),
    imagekitio.PermissionDeniedError, 403, unauthenticated, "KEY_UNKNOWN",
)
expect_error(
    "files.upload (v1) with a wrong private key",
    lambda: wrong.files.upload(file=fixture("tiny.jpg"), file_name="x.jpg"),
    imagekitio.PermissionDeniedError, 403, unauthenticated, "KEY_UNKNOWN",
)
expect_error(
    "beta.v2.files.upload with use_unique_file_name=False, overwrite_file=False on an existing path",
    lambda: client.beta.v2.files.upload(
        file=fixture("tiny.jpg"), file_name="sdk photo.jpg", folder="/python-sdk/v2",
        use_unique_file_name=False, overwrite_file=False,
    ),
    imagekitio.BadRequestError, 400,
    "A file with the same name already exists at the exact location. We could not overwrite it because both overwriteFile and useUniqueFileName are set to false.",
    "FILE_EXISTS",
)
expect_error(
    "beta.v2.files.upload without a file name",
    lambda: client.beta.v2.files.upload(file=fixture("tiny.jpg"), file_name=""),
    imagekitio.BadRequestError, 400, "Your request is missing fileName parameter.",
    "PARAM_MISSING", param="fileName",
)
print("python sdk: all checks passed")
