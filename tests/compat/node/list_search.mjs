// The official Node SDK (@imagekit/nodejs) listing and searching files (GET /v1/files, spec §8.9,
// media-api §2–§3) with assets.list: path, sort, type, searchQuery, paging, and the 400s.
import assert from 'node:assert/strict';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, log, TIMEOUT_MS } from './common.mjs';

const client = new ImageKit({ privateKey: env.privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });

for (const [fileName, folder, tags] of [
  ['beach.jpg', '/sdk/summer', ['sale', 'sea']],
  ['alps.jpg', '/sdk/winter', ['snow']],
  ['boat.jpg', '/sdk/summer', ['sea']],
]) {
  await client.beta.v2.files.upload({
    file: await toFile(fixture('tiny.jpg'), fileName),
    fileName,
    folder,
    tags,
    useUniqueFileName: false,
  });
}
log('uploaded 3 files');

const names = (items) => items.map((item) => (item.type === 'folder' ? `${item.folderPath}/` : item.name));

const summer = await client.assets.list({ path: '/sdk/summer', sort: 'ASC_NAME' });
assert.deepEqual(names(summer), ['beach.jpg', 'boat.jpg']);
assert.equal(summer[0].type, 'file');
assert.equal(summer[0].filePath, '/sdk/summer/beach.jpg');
assert.deepEqual(summer[0].tags, ['sale', 'sea']);
log('assets.list({path, sort}) -> the folder, by name');

const folders = await client.assets.list({ type: 'folder', path: '/sdk', sort: 'DESC_NAME' });
assert.deepEqual(names(folders), ['/sdk/winter/', '/sdk/summer/']);
log('assets.list({type: folder}) -> folder objects');

const found = await client.assets.list({ searchQuery: 'tags IN ["sea"] AND name : "b"', sort: 'ASC_NAME' });
assert.deepEqual(names(found), ['beach.jpg', 'boat.jpg']);
const recent = await client.assets.list({ searchQuery: `createdAt > "1d" AND path : '/sdk/winter'` });
assert.deepEqual(names(recent), ['alps.jpg']);
log('assets.list({searchQuery}) -> matches');

const page = await client.assets.list({ sort: 'ASC_NAME', limit: 1, skip: 1 });
assert.deepEqual(names(page), ['beach.jpg']);
log('assets.list({limit, skip}) -> one page');

for (const [params, message] of [
  [{ limit: 0 }, 'Minimum value of limit parameter is 1. Value sent is 0.'],
  [{ skip: -1 }, 'The value of skip parameter should be greater than or equal to 0. Value sent is -1.'],
  [{ searchQuery: 'colour = "red"' }, 'Invalid search query - unknown field `colour`'],
]) {
  await assert.rejects(
    () => client.assets.list(params),
    (err) => {
      assert.ok(err instanceof ImageKit.BadRequestError, `${err}`);
      assert.equal(err.error?.message, message);
      return true;
    },
  );
}
log('assets.list with bad parameters -> BadRequestError with the exact message');
