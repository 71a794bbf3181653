"""Shared by the Python compatibility scripts: the environment the Rust test passes, fixtures,
and the checks every upload response must pass."""

import os
import re
import struct
import urllib.request

TIMEOUT_S = 10


def _required(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"environment variable {name} is not set (run via cargo test)")
    return value


BASE = _required("FOLIO_BASE_URL")
PUBLIC_KEY = _required("FOLIO_PUBLIC_KEY")
PRIVATE_KEY = _required("FOLIO_PRIVATE_KEY")
FIXTURES = _required("FOLIO_FIXTURES")

# Pixel size (width, height) of the fixtures the scripts upload.
DIMENSIONS = {"tiny.jpg": (1, 1), "photo-exif.jpg": (640, 480)}


def fixture_path(name):
    return os.path.join(FIXTURES, name)


def fixture(name):
    with open(fixture_path(name), "rb") as f:
        return f.read()


def ok(*args):
    print("ok:", *args, flush=True)


def check_uploaded_file(file, *, fixture_name, name, folder="/", version=1):
    """The upload file object (spec §4.2) as a dict with the wire keys, for a new upload of
    `fixture_name`: the keys that are always present, the image keys, the delivered bytes."""
    assert re.fullmatch(r"[0-9a-f]{24}", file["fileId"]), file
    if isinstance(name, re.Pattern):
        assert name.fullmatch(file["name"]), file["name"]
    else:
        assert file["name"] == name, (file["name"], name)
    data = fixture(fixture_name)
    assert file["size"] == len(data), (file["size"], len(data))
    assert file["versionInfo"]["name"] == f"Version {version}", file["versionInfo"]
    if version == 1:
        assert file["versionInfo"]["id"] == file["fileId"], file["versionInfo"]
    prefix = "" if folder == "/" else folder
    assert file["filePath"] == f"{prefix}/{file['name']}", file["filePath"]
    assert file["url"].startswith("http://") and file["url"].endswith(file["filePath"]), file["url"]
    assert file["fileType"] == "image", file["fileType"]
    assert (file["width"], file["height"]) == DIMENSIONS[fixture_name], file
    assert "/tr:n-ik_ml_thumbnail/" in file["thumbnailUrl"], file["thumbnailUrl"]
    assert "AITags" in file and file["AITags"] is None, file
    with urllib.request.urlopen(file["url"], timeout=TIMEOUT_S) as response:
        assert response.status == 200, response.status
        assert response.read() == data, "delivered bytes differ"


def jpeg_size(data):
    """Width and height of a JPEG, read from its first frame header (SOFn)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise AssertionError(f"not a JPEG marker at {i}")
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    raise AssertionError("no JPEG frame header")
