// The official Node SDK (@imagekit/nodejs) against Folio's media API (media-api §2):
// files.get/update/delete/copy/move/rename, files.versions.*, files.bulk.*, files.metadata.*,
// authenticated with the private key, exactly as an application calls them.
import assert from 'node:assert/strict';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, log, TIMEOUT_MS } from './common.mjs';

const client = new ImageKit({ privateKey: env.privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });

const upload = async (name, fixtureName, extra = {}) =>
  client.beta.v2.files.upload({
    file: await toFile(fixture(fixtureName), name),
    fileName: name,
    folder: '/sdk',
    useUniqueFileName: false,
    ...extra,
  });

const v1 = await upload('dress.jpg', 'tiny.jpg', { tags: ['summer'] });
const v2 = await upload('dress.jpg', 'photo-exif.jpg');
log('uploads -> 2 versions');

const details = await client.files.get(v1.fileId);
assert.equal(details.type, 'file');
assert.equal(details.fileId, v1.fileId);
assert.equal(details.versionInfo.id, v2.versionInfo.id);
assert.equal(details.filePath, '/sdk/dress.jpg');
assert.equal(details.width, 640);
assert.match(details.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
log('files.get -> File');

const updated = await client.files.update(v1.fileId, {
  tags: ['red', 'sale'],
  customCoordinates: '1,2,3,4',
  description: 'a dress',
});
assert.deepEqual(updated.tags, ['red', 'sale']);
assert.equal(updated.customCoordinates, '1,2,3,4');
assert.equal(updated.description, 'a dress');
log('files.update -> File');

const unpublished = await client.files.update(v1.fileId, { publish: { isPublished: false, includeFileVersions: true } });
assert.equal(unpublished.isPublished, false);
await client.files.update(v1.fileId, { publish: { isPublished: true, includeFileVersions: true } });
log('files.update publish -> File');

await assert.rejects(
  () => client.files.get('65a000000000000000000000'),
  (err) => {
    assert.ok(err instanceof ImageKit.NotFoundError, `${err}`);
    assert.equal(err.error?.message, 'The requested file does not exist.');
    return true;
  },
);
await assert.rejects(
  () => client.files.get('not-an-id'),
  (err) => {
    assert.ok(err instanceof ImageKit.BadRequestError, `${err}`);
    assert.equal(err.error?.message, 'Your request contains invalid fileId parameter.');
    return true;
  },
);
log('files.get unknown / malformed -> NotFoundError / BadRequestError');

const versions = await client.files.versions.list(v1.fileId);
assert.deepEqual(versions.map((v) => v.type), ['file', 'file-version']);
const old = await client.files.versions.get(v1.versionInfo.id, { fileId: v1.fileId });
assert.equal(old.type, 'file-version');
assert.ok(old.url.includes(`ik-obj-version=${v1.versionInfo.id}`), old.url);
const restored = await client.files.versions.restore(v1.versionInfo.id, { fileId: v1.fileId });
assert.equal(restored.type, 'file');
assert.equal(restored.versionInfo.id, v1.versionInfo.id);
await client.files.versions.delete(v2.versionInfo.id, { fileId: v1.fileId });
await assert.rejects(
  () => client.files.versions.delete(v1.versionInfo.id, { fileId: v1.fileId }),
  (err) => {
    assert.ok(err instanceof ImageKit.BadRequestError, `${err}`);
    assert.equal(err.error?.message, 'You cannot delete current version of a file.');
    return true;
  },
);
assert.equal((await client.files.versions.list(v1.fileId)).length, 1);
log('files.versions.list/get/restore/delete');

const metadata = await client.files.metadata.get(v1.fileId);
assert.equal(metadata.width, 1);
assert.equal(metadata.format, 'jpg');
if (process.env.FOLIO_PHOTO_URL) {
  const fromUrl = await client.files.metadata.getFromURL({ url: process.env.FOLIO_PHOTO_URL });
  assert.equal(fromUrl.width, 640);
  assert.equal(fromUrl.height, 480);
}
log('files.metadata.get/getFromURL');

await client.files.copy({ sourceFilePath: '/sdk/dress.jpg', destinationPath: '/copies/', includeFileVersions: true });
await client.files.move({ sourceFilePath: '/copies/dress.jpg', destinationPath: '/moved' });
const renamed = await client.files.rename({ filePath: '/moved/dress.jpg', newFileName: 'gown.jpg', purgeCache: false });
assert.deepEqual(renamed, {});
await upload('taken.jpg', 'tiny.jpg');
await assert.rejects(
  () => client.files.rename({ filePath: '/sdk/dress.jpg', newFileName: 'taken.jpg' }),
  (err) => {
    assert.ok(err instanceof ImageKit.ConflictError, `${err}`);
    assert.equal(err.error?.reason, 'FILE_ALREADY_EXISTS');
    return true;
  },
);
await assert.rejects(
  () => client.files.move({ sourceFilePath: '/nope.jpg', destinationPath: '/x' }),
  (err) => {
    assert.ok(err instanceof ImageKit.NotFoundError, `${err}`);
    assert.equal(err.error?.message, 'No file found with filePath /nope.jpg');
    return true;
  },
);
log('files.copy/move/rename (+ 409 FILE_ALREADY_EXISTS, 404)');

const other = await upload('other.jpg', 'tiny.jpg');
const added = await client.files.bulk.addTags({ fileIds: [v1.fileId, other.fileId], tags: ['bulk'] });
assert.deepEqual(added.successfullyUpdatedFileIds, [v1.fileId, other.fileId]);
const removed = await client.files.bulk.removeTags({ fileIds: [other.fileId], tags: ['bulk'] });
assert.deepEqual(removed.successfullyUpdatedFileIds, [other.fileId]);
const removedAi = await client.files.bulk.removeAITags({ fileIds: [other.fileId], AITags: ['x'] });
assert.deepEqual(removedAi.successfullyUpdatedFileIds, [other.fileId]);
await assert.rejects(
  () => client.files.bulk.delete({ fileIds: [other.fileId, '65a000000000000000000000'] }),
  (err) => {
    assert.ok(err instanceof ImageKit.NotFoundError, `${err}`);
    assert.equal(err.error?.message, 'The requested file(s) does not exist.');
    assert.deepEqual(err.error?.missingFileIds, ['65a000000000000000000000']);
    return true;
  },
);
const bulkDeleted = await client.files.bulk.delete({ fileIds: [other.fileId] });
assert.deepEqual(bulkDeleted.successfullyDeletedFileIds, [other.fileId]);
log('files.bulk.addTags/removeTags/removeAITags/delete');

await client.files.delete(v1.fileId);
await assert.rejects(() => client.files.get(v1.fileId), ImageKit.NotFoundError);
log('files.delete -> 204');
