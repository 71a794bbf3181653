// The official Node SDK (@imagekit/nodejs) against Folio's folder API, folder bulk jobs and
// cache purge (media-api §2), authenticated with the private key.
import assert from 'node:assert/strict';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, log, TIMEOUT_MS } from './common.mjs';

const client = new ImageKit({ privateKey: env.privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });

async function until(get) {
  for (let i = 0; i < 300; i++) {
    const status = await get();
    if (status.status === 'Completed') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('job still pending');
}

assert.deepEqual(await client.folders.create({ folderName: 'summer', parentFolderPath: '/sdk/node' }), {});
log('folders.create -> 201');
const up = await client.files.upload({ file: await toFile(fixture('tiny.jpg'), 'a.jpg'), fileName: 'a.jpg', folder: '/sdk/node/summer', useUniqueFileName: false });

const copy = await client.folders.copy({ sourceFolderPath: '/sdk/node/summer', destinationPath: '/sdk/copies', includeVersions: true });
assert.match(copy.jobId, /^[0-9a-f]{24}$/);
const copied = await until(() => client.folders.job.get(copy.jobId));
assert.deepEqual(copied, { jobId: copy.jobId, type: 'COPY_FOLDER', status: 'Completed' });
log('folders.copy + folders.job.get -> Completed');

const move = await client.folders.move({ sourceFolderPath: '/sdk/copies/summer', destinationPath: '/sdk/moved' });
assert.equal((await until(() => client.folders.job.get(move.jobId))).type, 'MOVE_FOLDER');
log('folders.move -> Completed');

const rename = await client.folders.rename({ folderPath: '/sdk/moved/summer', newFolderName: 'winter', purgeCache: true });
const renamed = await until(() => client.folders.job.get(rename.jobId));
assert.equal(renamed.type, 'RENAME_FOLDER');
assert.match(renamed.purgeRequestId, /^[0-9a-f]{24}$/);
await until(() => client.cache.invalidation.get(renamed.purgeRequestId));
log('folders.rename with purgeCache -> Completed, its purge too');

const purge = await client.cache.invalidation.create({ url: up.url });
assert.match(purge.requestId, /^[0-9a-f]{24}$/);
assert.deepEqual(await until(() => client.cache.invalidation.get(purge.requestId)), { status: 'Completed' });
log('cache.invalidation.create + get -> Completed');

await assert.rejects(
  () => client.folders.copy({ sourceFolderPath: '/sdk/none', destinationPath: '/x' }),
  (err) => {
    assert.ok(err instanceof ImageKit.NotFoundError, `${err}`);
    assert.equal(err.error?.message, 'No files & folder found at sourceFolderPath /sdk/none');
    return true;
  },
);
log('folders.copy of an unknown folder -> NotFoundError');

await client.folders.delete({ folderPath: '/sdk' });
await assert.rejects(() => client.folders.delete({ folderPath: '/sdk' }), ImageKit.NotFoundError);
log('folders.delete -> 204, then NotFoundError');
