"""The official Python SDK (imagekitio) against Folio's folder API, folder bulk jobs and cache
purge (media-api §2), authenticated with the private key."""

import time

import imagekitio
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, fixture, ok

client = ImageKit(private_key=PRIVATE_KEY, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)


def until(get):
    for _ in range(300):
        status = get()
        if status.status == "Completed":
            return status
        time.sleep(0.05)
    raise AssertionError("job still pending")


client.folders.create(folder_name="summer", parent_folder_path="/sdk/py")
ok("folders.create -> 201")
up = client.files.upload(
    file=fixture("tiny.jpg"), file_name="a.jpg", folder="/sdk/py/summer", use_unique_file_name=False
)

copy = client.folders.copy(
    source_folder_path="/sdk/py/summer", destination_path="/sdk/copies", include_versions=True
)
done = until(lambda: client.folders.job.get(copy.job_id))
assert (done.job_id, done.type) == (copy.job_id, "COPY_FOLDER"), done
ok("folders.copy + folders.job.get -> Completed")

move = client.folders.move(source_folder_path="/sdk/copies/summer", destination_path="/sdk/moved")
assert until(lambda: client.folders.job.get(move.job_id)).type == "MOVE_FOLDER"
ok("folders.move -> Completed")

rename = client.folders.rename(
    folder_path="/sdk/moved/summer", new_folder_name="winter", purge_cache=True
)
renamed = until(lambda: client.folders.job.get(rename.job_id))
assert renamed.type == "RENAME_FOLDER" and renamed.purge_request_id, renamed
until(lambda: client.cache.invalidation.get(renamed.purge_request_id))
ok("folders.rename with purge_cache -> Completed, its purge too")

purge = client.cache.invalidation.create(url=up.url)
assert until(lambda: client.cache.invalidation.get(purge.request_id)).status == "Completed"
ok("cache.invalidation.create + get -> Completed")

try:
    client.folders.copy(source_folder_path="/sdk/none", destination_path="/x")
    raise AssertionError("copy of an unknown folder succeeded")
except imagekitio.NotFoundError as err:
    assert err.body["message"] == "No files & folder found at sourceFolderPath /sdk/none", err.body
ok("folders.copy of an unknown folder -> NotFoundError")

client.folders.delete(folder_path="/sdk")
try:
    client.folders.delete(folder_path="/sdk")
    raise AssertionError("second delete succeeded")
except imagekitio.NotFoundError:
    pass
ok("folders.delete -> 204, then NotFoundError")
