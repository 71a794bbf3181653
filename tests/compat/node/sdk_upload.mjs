// The official Node SDK (@imagekit/nodejs) against Folio, authenticated with the private key
// (HTTP Basic `privateKey:do_not_set`): v2 and v1 uploads, an overwrite, and the errors the SDK
// raises for a wrong key and for a name conflict.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, fixturePath, checkUploadedFile, log, TIMEOUT_MS } from './common.mjs';

const sdk = (privateKey) =>
  new ImageKit({ privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });
const client = sdk(env.privateKey);
const sdkVersion = JSON.parse(
  fs.readFileSync(new URL('./node_modules/@imagekit/nodejs/package.json', import.meta.url)),
).version;
log(`@imagekit/nodejs ${sdkVersion}`);

// v2, file as a read stream, arrays and booleans serialised by the SDK.
const { data: v2, response } = await client.beta.v2.files
  .upload({
    file: fs.createReadStream(fixturePath('photo-exif.jpg')),
    fileName: 'sdk photo.jpg',
    folder: '/node-sdk/v2',
    tags: ['summer', 'dress'],
    useUniqueFileName: false,
    isPrivateFile: false,
    responseFields: ['tags', 'isPrivateFile', 'isPublished', 'customCoordinates'],
  })
  .withResponse();
await checkUploadedFile(v2, { fixtureName: 'photo-exif.jpg', name: 'sdk_photo.jpg', folder: '/node-sdk/v2' });
assert.equal(v2.orientation, 6, 'orientation from EXIF');
assert.deepEqual(v2.tags, ['summer', 'dress']);
assert.equal(v2.isPrivateFile, false);
assert.equal(v2.isPublished, true);
assert.equal(v2.customCoordinates, null);
assert.match(response.headers.get('x-ik-requestid') ?? '', /^[0-9a-f-]{36}$/, 'x-ik-requestId');
assert.equal(response.headers.get('x-request-id'), response.headers.get('x-ik-requestid'));
log('beta.v2.files.upload (stream, tags[], booleans, responseFields[]) -> 200, file object and delivered bytes checked');

// Same path again: a new version of the same file.
const again = await client.beta.v2.files.upload({
  file: await toFile(fixture('tiny.jpg'), 'tiny.jpg'),
  fileName: 'sdk photo.jpg',
  folder: '/node-sdk/v2',
  useUniqueFileName: false,
});
await checkUploadedFile(again, { fixtureName: 'tiny.jpg', name: 'sdk_photo.jpg', folder: '/node-sdk/v2', version: 2 });
assert.equal(again.fileId, v2.fileId, 'an overwrite keeps the fileId');
assert.notEqual(again.versionInfo.id, v2.versionInfo.id);
log('beta.v2.files.upload overwrite -> Version 2 of the same fileId');

// v1 endpoint, file from a Buffer, default unique name.
const v1 = await client.files.upload({ file: await toFile(fixture('tiny.jpg'), 'tiny.jpg'), fileName: 'tiny.jpg' });
await checkUploadedFile(v1, { fixtureName: 'tiny.jpg', name: /^tiny_[A-Za-z0-9_-]{9}\.jpg$/ });
log(`files.upload (v1) -> 200, unique name ${v1.name}`);

/**
 * Runs `call`, expects the SDK's APIError subclass `type` with the server's exact message, and
 * Folio's machine `code` (plus any `detail` keys) readable from the parsed error body.
 */
async function expectError(what, call, type, status, message, code, detail = {}) {
  await assert.rejects(call, (err) => {
    assert.ok(err instanceof type, `${what}: expected ${type.name}, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, status, `${what}: status`);
    assert.equal(err.error?.message, message, `${what}: error.message`);
    assert.equal(typeof err.error?.help, 'string', `${what}: error.help`);
    assert.equal(err.error?.code, code, `${what}: error.code`);
    for (const [key, value] of Object.entries(detail)) {
      assert.equal(err.error?.[key], value, `${what}: error.${key}`);
    }
    assert.equal(err.message, `${status} ${message}`, `${what}: exception text`);
    return true;
  });
  log(`${what} -> ${type.name} "${status} ${message}" ${code}`);
}

const wrong = sdk('private_not_a_key_of_this_server');
const unauthenticated = 'Your account cannot be authenticated.';
await expectError(
  'beta.v2.files.upload with a wrong private key',
  () => wrong.beta.v2.files.upload({ file: fs.createReadStream(fixturePath('tiny.jpg')), fileName: 'x.jpg' }),
  ImageKit.PermissionDeniedError,
  403,
  unauthenticated,
  'KEY_UNKNOWN',
);
await expectError(
  'files.upload (v1) with a wrong private key',
  () => wrong.files.upload({ file: fs.createReadStream(fixturePath('tiny.jpg')), fileName: 'x.jpg' }),
  ImageKit.PermissionDeniedError,
  403,
  unauthenticated,
  'KEY_UNKNOWN',
);
await expectError(
  'beta.v2.files.upload with useUniqueFileName=false, overwriteFile=false on an existing path',
  () =>
    client.beta.v2.files.upload({
      file: fs.createReadStream(fixturePath('tiny.jpg')),
      fileName: 'sdk photo.jpg',
      folder: '/node-sdk/v2',
      useUniqueFileName: false,
      overwriteFile: false,
    }),
  ImageKit.BadRequestError,
  400,
  'A file with the same name already exists at the exact location. We could not overwrite it because both overwriteFile and useUniqueFileName are set to false.',
  'FILE_EXISTS',
);
await expectError(
  'beta.v2.files.upload without fileName',
  () => client.beta.v2.files.upload({ file: fs.createReadStream(fixturePath('tiny.jpg')) }),
  ImageKit.BadRequestError,
  400,
  'Your request is missing fileName parameter.',
  'PARAM_MISSING',
  { param: 'fileName' },
);
console.log('node sdk: all checks passed');
