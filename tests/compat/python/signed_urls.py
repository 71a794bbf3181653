"""The official Python SDK's URL helper (imagekitio `client.helper.build_url`) against Folio's
delivery (media-api §4): signed URLs for private files, with and without expiry, with a
transformation in the query (the SDK's default) and in the path, with extra query parameters
and a non-ASCII file name, are served; a changed transformation, a changed path, an expired
`ik-t` and a foreign key are refused with 401."""

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from unittest import mock

from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, fixture, jpeg_size, ok

URL_ENDPOINT = os.environ.get("FOLIO_URL_ENDPOINT") or ""
assert URL_ENDPOINT, "FOLIO_URL_ENDPOINT is set (run via cargo test)"
INVALID = "The URL signature is invalid."
ORIGINAL = fixture("photo-exif.jpg")


def sdk(private_key):
    return ImageKit(private_key=private_key, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)


client = sdk(PRIVATE_KEY)


def upload_private(file_name):
    return client.files.upload(
        file=ORIGINAL,
        file_name=file_name,
        folder="/signed",
        use_unique_file_name=False,
        is_private_file=True,
    ).to_dict()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def expect_refused(what, url, message):
    status, headers, body = get(url)
    assert status == 401, (what, url, status, body)
    parsed = json.loads(body)
    assert parsed["message"] == message, (what, parsed)
    assert isinstance(parsed["help"], str), (what, parsed)
    assert headers.get("x-should-retry") == "false", (what, dict(headers))
    ok(f'{what} -> 401 "{message}"')


def expect_served(what, url, check):
    status, headers, body = get(url)
    assert status == 200, (what, url, status, body)
    assert re.fullmatch(r"private, max-age=\d+", headers.get("cache-control", "")), (what, dict(headers))
    check(body)
    ok(f"{what} -> 200 ({url[len(URL_ENDPOINT):]})")


def same_bytes(body):
    assert body == ORIGINAL, "the original bytes"


def sized(width, height):
    def check(body):
        assert jpeg_size(body) == (width, height), jpeg_size(body)

    return check


plain = upload_private("private photo.jpg")
assert plain["filePath"] == "/signed/private_photo.jpg", plain["filePath"]
hindi = upload_private("हिन्दी.jpg")
assert hindi["filePath"] == "/signed/हिन्दी.jpg", hindi["filePath"]
expect_refused("GET of a private file, unsigned", plain["url"], "Your request is not authorized to access this file.")

for file in (plain, hindi):
    src = file["filePath"]
    forever = client.helper.build_url(src=src, url_endpoint=URL_ENDPOINT, signed=True)
    assert re.search(r"\?ik-s=[0-9a-f]{40}$", forever), forever
    expect_served(f"build_url(signed=True) for {src}", forever, same_bytes)

    expiring = client.helper.build_url(src=src, url_endpoint=URL_ENDPOINT, signed=True, expires_in=300)
    assert re.search(r"\?ik-t=\d{10}&ik-s=[0-9a-f]{40}$", expiring), expiring
    expect_served(f"build_url(signed=True, expires_in=300) for {src}", expiring, same_bytes)

    # The SDK's default position for a transformation is the query.
    query = client.helper.build_url(src=src, url_endpoint=URL_ENDPOINT, signed=True, transformation=[{"width": 40}])
    assert "?tr=w-40&ik-s=" in query, query
    expect_served(f"build_url(transformation=[{{'width': 40}}]) for {src}", query, sized(40, 53))

    path = client.helper.build_url(
        src=src,
        url_endpoint=URL_ENDPOINT,
        transformation=[{"width": 48, "height": 30, "crop": "force"}],
        transformation_position="path",
        expires_in=120,
    )
    assert path.startswith(f"{URL_ENDPOINT}/tr:w-48,h-30,c-force/"), path
    expect_served(f"build_url(transformation_position='path', expires_in=120) for {src}", path, sized(48, 30))

# Query parameters of the user's own are signed with the rest.
with_params = client.helper.build_url(
    src=plain["filePath"],
    url_endpoint=URL_ENDPOINT,
    signed=True,
    query_parameters={"v": "2", "cache": "false"},
    transformation=[{"width": 40}],
)
assert "?v=2&cache=false&tr=w-40&ik-s=" in with_params, with_params
expect_served("build_url(query_parameters=..., transformation=...)", with_params, sized(40, 53))
expect_refused("the same URL with a parameter changed", with_params.replace("v=2", "v=3"), INVALID)

# What the signature covers cannot be changed.
signed = client.helper.build_url(
    src=plain["filePath"],
    url_endpoint=URL_ENDPOINT,
    transformation=[{"width": 40}],
    transformation_position="path",
    expires_in=300,
)
expect_served("a signed path transformation", signed, sized(40, 53))
expect_refused("a changed transformation", signed.replace("tr:w-40", "tr:w-400"), INVALID)
expect_refused("a transformation added in the query", signed.replace("?ik-t", "?tr=w-400&ik-t"), INVALID)
expect_refused(
    "a changed path", signed.replace("private_photo.jpg", urllib.parse.quote("हिन्दी.jpg")), INVALID
)
query_form = client.helper.build_url(
    src=plain["filePath"], url_endpoint=URL_ENDPOINT, signed=True, transformation=[{"width": 40}]
)
expect_refused("a changed query transformation", query_form.replace("tr=w-40", "tr=w-400"), INVALID)

# Expired: made by the SDK an hour ago, for 60 seconds.
an_hour_ago = time.time() - 3600
with mock.patch("imagekitio.lib.helper.time.time", return_value=an_hour_ago):
    expired = client.helper.build_url(src=plain["filePath"], url_endpoint=URL_ENDPOINT, expires_in=60)
assert re.search(r"\?ik-t=(\d+)&", expired) and int(re.search(r"ik-t=(\d+)", expired).group(1)) < time.time(), expired
expect_refused("a URL whose ik-t has passed", expired, "The signed URL has expired.")

# Signed with a key this server does not have.
foreign = sdk("private_not_a_key_of_this_server").helper.build_url(
    src=plain["filePath"], url_endpoint=URL_ENDPOINT, signed=True
)
expect_refused("a URL signed with another key", foreign, INVALID)
