// The official Node SDK (@imagekit/nodejs) against Folio's custom metadata fields API
// (spec §9.2) and an upload with customMetadata (spec §9.3), authenticated with the private key.
import assert from 'node:assert/strict';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, log, TIMEOUT_MS } from './common.mjs';

const client = new ImageKit({ privateKey: env.privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });

const price = await client.customMetadataFields.create({
  name: 'price',
  label: 'Price',
  schema: { type: 'Number', minValue: 10, maxValue: 3000 },
});
assert.match(price.id, /^[0-9a-f]{24}$/);
assert.deepEqual(price.schema, { type: 'Number', minValue: 10, maxValue: 3000 });
log('customMetadataFields.create (Number) -> 201', price.id);

const color = await client.customMetadataFields.create({
  name: 'color',
  label: 'Color',
  schema: { type: 'SingleSelect', selectOptions: ['red', 'blue'], defaultValue: 'red' },
});
log('customMetadataFields.create (SingleSelect with default) -> 201');

await assert.rejects(
  () => client.customMetadataFields.create({ name: 'price', label: 'Other', schema: { type: 'Text' } }),
  (err) => {
    assert.ok(err instanceof ImageKit.BadRequestError, `${err}`);
    assert.equal(err.error?.message, 'A custom metadata field with this name already exists.');
    return true;
  },
);
log('customMetadataFields.create duplicate name -> BadRequestError');

const updated = await client.customMetadataFields.update(price.id, { label: 'Cost' });
assert.equal(updated.label, 'Cost');
log('customMetadataFields.update -> 200');

const list = await client.customMetadataFields.list();
assert.deepEqual(list.map((f) => f.name), ['price', 'color']);
log('customMetadataFields.list -> 2 fields');

const upload = await client.beta.v2.files.upload({
  file: await toFile(fixture('tiny.jpg'), 'tiny.jpg'),
  fileName: 'cm.jpg',
  customMetadata: { price: 250 },
  responseFields: ['customMetadata'],
});
assert.deepEqual(upload.customMetadata, { price: 250, color: 'red' });
log('beta.v2.files.upload with customMetadata -> stored with defaults');

await assert.rejects(
  async () =>
    client.beta.v2.files.upload({
      file: await toFile(fixture('tiny.jpg'), 'tiny.jpg'),
      fileName: 'cm.jpg',
      customMetadata: { price: 'cheap' },
    }),
  (err) => {
    assert.ok(err instanceof ImageKit.BadRequestError, `${err}`);
    assert.equal(err.error?.message, 'Invalid custom metadata.');
    assert.equal(typeof err.error?.errors?.price, 'string');
    return true;
  },
);
log('beta.v2.files.upload with an invalid value -> BadRequestError with errors');

await client.customMetadataFields.delete(color.id);
const all = await client.customMetadataFields.list({ includeDeleted: true });
assert.equal(all.length, 2);
const live = await client.customMetadataFields.list({ includeDeleted: false });
assert.deepEqual(live.map((f) => f.name), ['price']);
log('customMetadataFields.delete -> 204; list includeDeleted true/false');
