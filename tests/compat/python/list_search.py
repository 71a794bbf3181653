"""The official Python SDK (imagekitio) listing and searching files (GET /v1/files, spec §8.9,
media-api §2-§3) with assets.list: path, sort, type, search_query, paging, and the 400s."""

import imagekitio
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, fixture, ok

client = ImageKit(private_key=PRIVATE_KEY, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)

for file_name, folder, tags in [
    ("beach.jpg", "/sdk/summer", ["sale", "sea"]),
    ("alps.jpg", "/sdk/winter", ["snow"]),
    ("boat.jpg", "/sdk/summer", ["sea"]),
]:
    client.beta.v2.files.upload(
        file=fixture("tiny.jpg"), file_name=file_name, folder=folder, tags=tags, use_unique_file_name=False
    )
ok("uploaded 3 files")


def names(items):
    out = []
    for item in items:
        data = item.to_dict()
        out.append(data["folderPath"] + "/" if data["type"] == "folder" else data["name"])
    return out


summer = client.assets.list(path="/sdk/summer", sort="ASC_NAME")
assert names(summer) == ["beach.jpg", "boat.jpg"], summer
first = summer[0].to_dict()
assert first["type"] == "file" and first["filePath"] == "/sdk/summer/beach.jpg", first
assert first["tags"] == ["sale", "sea"], first
ok("assets.list(path, sort) -> the folder, by name")

folders = client.assets.list(type="folder", path="/sdk", sort="DESC_NAME")
assert names(folders) == ["/sdk/winter/", "/sdk/summer/"], folders
ok("assets.list(type=folder) -> folder objects")

found = client.assets.list(search_query='tags IN ["sea"] AND name : "b"', sort="ASC_NAME")
assert names(found) == ["beach.jpg", "boat.jpg"], found
recent = client.assets.list(search_query="createdAt > \"1d\" AND path : '/sdk/winter'")
assert names(recent) == ["alps.jpg"], recent
ok("assets.list(search_query) -> matches")

page = client.assets.list(sort="ASC_NAME", limit=1, skip=1)
assert names(page) == ["beach.jpg"], page
ok("assets.list(limit, skip) -> one page")

for params, message in [
    ({"limit": 0}, "Minimum value of limit parameter is 1. Value sent is 0."),
    ({"skip": -1}, "The value of skip parameter should be greater than or equal to 0. Value sent is -1."),
    ({"search_query": 'colour = "red"'}, "Invalid search query - unknown field `colour`"),
]:
    try:
        client.assets.list(**params)
        raise AssertionError(f"{params} was accepted")
    except imagekitio.BadRequestError as err:
        assert err.body["message"] == message, err.body
ok("assets.list with bad parameters -> BadRequestError with the exact message")
