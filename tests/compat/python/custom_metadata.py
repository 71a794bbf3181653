"""The official Python SDK (imagekitio) against Folio's custom metadata fields API (spec §9.2)
and an upload with customMetadata (spec §9.3), authenticated with the private key."""

import imagekitio
from imagekitio import ImageKit

from common import BASE, PRIVATE_KEY, TIMEOUT_S, fixture, ok

client = ImageKit(private_key=PRIVATE_KEY, base_url=BASE, max_retries=0, timeout=TIMEOUT_S)

price = client.custom_metadata_fields.create(
    name="price", label="Price", schema={"type": "Number", "min_value": 10, "max_value": 3000}
)
assert len(price.id) == 24, price
assert price.to_dict()["schema"] == {"type": "Number", "minValue": 10, "maxValue": 3000}, price
ok("custom_metadata_fields.create (Number) -> 201")

color = client.custom_metadata_fields.create(
    name="color",
    label="Color",
    schema={"type": "SingleSelect", "select_options": ["red", "blue"], "default_value": "red"},
)
ok("custom_metadata_fields.create (SingleSelect with default) -> 201")

try:
    client.custom_metadata_fields.create(name="price", label="Other", schema={"type": "Text"})
    raise AssertionError("a duplicate name was accepted")
except imagekitio.BadRequestError as err:
    assert err.body["message"] == "A custom metadata field with this name already exists.", err.body
ok("custom_metadata_fields.create duplicate name -> BadRequestError")

updated = client.custom_metadata_fields.update(price.id, label="Cost")
assert updated.label == "Cost", updated
ok("custom_metadata_fields.update -> 200")

fields = client.custom_metadata_fields.list()
assert [f.name for f in fields] == ["price", "color"], fields
ok("custom_metadata_fields.list -> 2 fields")

uploaded = client.beta.v2.files.upload(
    file=fixture("tiny.jpg"),
    file_name="cm.jpg",
    custom_metadata={"price": 250},
    response_fields=["customMetadata"],
)
assert uploaded.to_dict()["customMetadata"] == {"price": 250, "color": "red"}, uploaded
ok("beta.v2.files.upload with custom_metadata -> stored with defaults")

try:
    client.beta.v2.files.upload(file=fixture("tiny.jpg"), file_name="cm.jpg", custom_metadata={"price": "cheap"})
    raise AssertionError("an invalid value was accepted")
except imagekitio.BadRequestError as err:
    assert err.body["message"] == "Invalid custom metadata.", err.body
    assert isinstance(err.body["errors"]["price"], str), err.body
ok("beta.v2.files.upload with an invalid value -> BadRequestError with errors")

client.custom_metadata_fields.delete(color.id)
assert len(client.custom_metadata_fields.list(include_deleted=True)) == 2
assert [f.name for f in client.custom_metadata_fields.list(include_deleted=False)] == ["price"]
ok("custom_metadata_fields.delete -> 204; list include_deleted true/false")
