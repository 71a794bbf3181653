"""The official Python SDK (imagekitio) against Folio's media API (media-api §2):
files.get/update/delete/copy/move/rename, files.versions.*, files.bulk.*, files.metadata.*,
authenticated with the private key, exactly as an application calls them."""

import os
import re

import imagekitio
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, fixture, ok

client = ImageKit(private_key=PRIVATE_KEY, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)
UNKNOWN = "65a000000000000000000000"


def upload(name, fixture_name, **extra):
    return client.beta.v2.files.upload(
        file=fixture(fixture_name),
        file_name=name,
        folder="/sdk",
        use_unique_file_name=False,
        **extra,
    )


def expect(error_type, call, **checks):
    try:
        call()
    except error_type as err:
        for key, want in checks.items():
            assert err.body.get(key) == want, (key, err.body)
        return
    raise AssertionError(f"expected {error_type.__name__}")


v1 = upload("dress.jpg", "tiny.jpg", tags=["summer"])
v2 = upload("dress.jpg", "photo-exif.jpg")
ok("uploads -> 2 versions")

details = client.files.get(v1.file_id)
assert details.type == "file", details
assert details.file_id == v1.file_id
assert details.version_info.id == v2.version_info.id
assert details.file_path == "/sdk/dress.jpg"
assert details.width == 640
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", details.to_dict()["createdAt"]), details
ok("files.get -> File")

updated = client.files.update(v1.file_id, tags=["red", "sale"], custom_coordinates="1,2,3,4", description="a dress")
assert updated.tags == ["red", "sale"], updated
assert updated.custom_coordinates == "1,2,3,4"
assert updated.description == "a dress"
unpublished = client.files.update(v1.file_id, publish={"is_published": False, "include_file_versions": True})
assert unpublished.is_published is False, unpublished
client.files.update(v1.file_id, publish={"is_published": True})
ok("files.update (attributes, publish) -> File")

expect(imagekitio.NotFoundError, lambda: client.files.get(UNKNOWN), message="The requested file does not exist.")
expect(
    imagekitio.BadRequestError,
    lambda: client.files.get("not-an-id"),
    message="Your request contains invalid fileId parameter.",
)
ok("files.get unknown / malformed -> NotFoundError / BadRequestError")

versions = client.files.versions.list(v1.file_id)
assert [v.type for v in versions] == ["file", "file-version"], versions
old = client.files.versions.get(v1.version_info.id, file_id=v1.file_id)
assert old.type == "file-version"
assert f"ik-obj-version={v1.version_info.id}" in old.url, old.url
restored = client.files.versions.restore(v1.version_info.id, file_id=v1.file_id)
assert restored.type == "file" and restored.version_info.id == v1.version_info.id, restored
client.files.versions.delete(v2.version_info.id, file_id=v1.file_id)
expect(
    imagekitio.BadRequestError,
    lambda: client.files.versions.delete(v1.version_info.id, file_id=v1.file_id),
    message="You cannot delete current version of a file.",
)
assert len(client.files.versions.list(v1.file_id)) == 1
ok("files.versions.list/get/restore/delete")

metadata = client.files.metadata.get(v1.file_id)
assert metadata.width == 1 and metadata.format == "jpg", metadata
photo_url = os.environ.get("FOLIO_PHOTO_URL")
if photo_url:
    from_url = client.files.metadata.get_from_url(url=photo_url)
    assert (from_url.width, from_url.height) == (640, 480), from_url
ok("files.metadata.get/get_from_url")

client.files.copy(source_file_path="/sdk/dress.jpg", destination_path="/copies/", include_file_versions=True)
client.files.move(source_file_path="/copies/dress.jpg", destination_path="/moved")
renamed = client.files.rename(file_path="/moved/dress.jpg", new_file_name="gown.jpg", purge_cache=False)
assert renamed.to_dict() == {}, renamed
upload("taken.jpg", "tiny.jpg")
expect(
    imagekitio.ConflictError,
    lambda: client.files.rename(file_path="/sdk/dress.jpg", new_file_name="taken.jpg"),
    reason="FILE_ALREADY_EXISTS",
)
expect(
    imagekitio.NotFoundError,
    lambda: client.files.move(source_file_path="/nope.jpg", destination_path="/x"),
    message="No file found with filePath /nope.jpg",
)
ok("files.copy/move/rename (+ 409 FILE_ALREADY_EXISTS, 404)")

other = upload("other.jpg", "tiny.jpg")
added = client.files.bulk.add_tags(file_ids=[v1.file_id, other.file_id], tags=["bulk"])
assert added.successfully_updated_file_ids == [v1.file_id, other.file_id], added
removed = client.files.bulk.remove_tags(file_ids=[other.file_id], tags=["bulk"])
assert removed.successfully_updated_file_ids == [other.file_id], removed
removed_ai = client.files.bulk.remove_ai_tags(file_ids=[other.file_id], ai_tags=["x"])
assert removed_ai.successfully_updated_file_ids == [other.file_id], removed_ai
expect(
    imagekitio.NotFoundError,
    lambda: client.files.bulk.delete(file_ids=[other.file_id, UNKNOWN]),
    message="The requested file(s) does not exist.",
    missingFileIds=[UNKNOWN],
)
deleted = client.files.bulk.delete(file_ids=[other.file_id])
assert deleted.successfully_deleted_file_ids == [other.file_id], deleted
ok("files.bulk.add_tags/remove_tags/remove_ai_tags/delete")

client.files.delete(v1.file_id)
expect(imagekitio.NotFoundError, lambda: client.files.get(v1.file_id))
ok("files.delete -> 204")
