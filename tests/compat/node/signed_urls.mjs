// The official Node SDK's URL helper (@imagekit/nodejs `client.helper.buildSrc`) against
// Folio's delivery (media-api §4): signed URLs for private files, with and without expiry,
// with a transformation in the query (the SDK's default) and in the path, with extra query
// parameters and a non-ASCII file name, are served; a changed transformation, a changed path,
// an expired `ik-t` and a foreign key are refused with 401.
import assert from 'node:assert/strict';
import ImageKit, { toFile } from '@imagekit/nodejs';
import { env, fixture, jpegSize, log, TIMEOUT_MS } from './common.mjs';

const urlEndpoint = process.env.FOLIO_URL_ENDPOINT;
assert.ok(urlEndpoint, 'FOLIO_URL_ENDPOINT is set (run via cargo test)');
const sdk = (privateKey) =>
  new ImageKit({ privateKey, baseURL: env.base, maxRetries: 0, timeout: TIMEOUT_MS });
const client = sdk(env.privateKey);
const original = fixture('photo-exif.jpg');

async function uploadPrivate(fileName) {
  return client.files.upload({
    file: await toFile(original, 'photo.jpg'),
    fileName,
    folder: '/signed',
    useUniqueFileName: false,
    isPrivateFile: true,
  });
}

async function get(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** A 401 in the API's error shape, marked not to be retried. */
async function expectRefused(what, url, message) {
  const got = await get(url);
  assert.equal(got.status, 401, `${what}: ${url} -> ${got.status} ${got.bytes}`);
  const body = JSON.parse(got.bytes.toString('utf8'));
  assert.equal(body.message, message, `${what}: message`);
  assert.equal(typeof body.help, 'string', `${what}: help`);
  assert.equal(got.headers.get('x-should-retry'), 'false', `${what}: x-should-retry`);
  log(`${what} -> 401 "${message}"`);
}

async function expectServed(what, url, check) {
  const got = await get(url);
  assert.equal(got.status, 200, `${what}: ${url} -> ${got.status} ${got.bytes}`);
  assert.match(got.headers.get('cache-control') ?? '', /^private, max-age=\d+$/, `${what}: cache-control`);
  check(got.bytes);
  log(`${what} -> 200 (${url.slice(urlEndpoint.length)})`);
}

const sameBytes = (bytes) => assert.deepEqual(bytes, original, 'the original bytes');
const sized = (width, height) => (bytes) => assert.deepEqual(jpegSize(bytes), [width, height], 'rendition size');

/** Runs `fn` while the SDK's clock (`new Date()`) shows `seconds` from now. */
function withClockShiftedBy(seconds, fn) {
  const RealDate = globalThis.Date;
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + seconds * 1000);
      else super(...args);
    }
    static now() {
      return RealDate.now() + seconds * 1000;
    }
  };
  try {
    return fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

const plain = await uploadPrivate('private photo.jpg');
assert.equal(plain.filePath, '/signed/private_photo.jpg');
const hindi = await uploadPrivate('हिन्दी.jpg');
assert.equal(hindi.filePath, '/signed/हिन्दी.jpg');
await expectRefused('GET of a private file, unsigned', plain.url, 'Your request is not authorized to access this file.');

for (const file of [plain, hindi]) {
  const src = file.filePath;
  const forever = client.helper.buildSrc({ src, urlEndpoint, signed: true });
  assert.match(forever, /\?ik-s=[0-9a-f]{40}$/, 'no expiry: ik-s only');
  await expectServed(`buildSrc({signed: true}) for ${src}`, forever, sameBytes);

  const expiring = client.helper.buildSrc({ src, urlEndpoint, signed: true, expiresIn: 300 });
  assert.match(expiring, /\?ik-t=\d{10}&ik-s=[0-9a-f]{40}$/, 'expiresIn: ik-t and ik-s');
  await expectServed(`buildSrc({signed: true, expiresIn: 300}) for ${src}`, expiring, sameBytes);

  // The SDK's default position for a transformation is the query.
  const query = client.helper.buildSrc({ src, urlEndpoint, signed: true, transformation: [{ width: 40 }] });
  assert.ok(query.includes('?tr=w-40&ik-s='), query);
  await expectServed(`buildSrc({transformation: [{width: 40}]}) for ${src}`, query, sized(40, 53));

  const path = client.helper.buildSrc({
    src,
    urlEndpoint,
    transformation: [{ width: 48, height: 30, crop: 'force' }],
    transformationPosition: 'path',
    expiresIn: 120,
  });
  assert.ok(path.startsWith(`${urlEndpoint}/tr:w-48,h-30,c-force/`), path);
  await expectServed(`buildSrc({transformationPosition: 'path', expiresIn: 120}) for ${src}`, path, sized(48, 30));
}

// Query parameters of the user's own are signed with the rest.
const withParams = client.helper.buildSrc({
  src: plain.filePath,
  urlEndpoint,
  signed: true,
  queryParameters: { v: '2', cache: 'false' },
  transformation: [{ width: 40 }],
});
assert.ok(withParams.includes('?v=2&cache=false&tr=w-40&ik-s='), withParams);
await expectServed('buildSrc({queryParameters, transformation})', withParams, sized(40, 53));
await expectRefused('the same URL with a parameter changed', withParams.replace('v=2', 'v=3'), 'The URL signature is invalid.');

// What the signature covers cannot be changed.
const signed = client.helper.buildSrc({
  src: plain.filePath,
  urlEndpoint,
  transformation: [{ width: 40 }],
  transformationPosition: 'path',
  expiresIn: 300,
});
await expectServed('a signed path transformation', signed, sized(40, 53));
const invalid = 'The URL signature is invalid.';
await expectRefused('a changed transformation', signed.replace('tr:w-40', 'tr:w-400'), invalid);
await expectRefused('a transformation added in the query', signed.replace('?ik-t', '?tr=w-400&ik-t'), invalid);
await expectRefused('a changed path', signed.replace('private_photo.jpg', encodeURIComponent('हिन्दी.jpg')), invalid);
const queryForm = client.helper.buildSrc({ src: plain.filePath, urlEndpoint, signed: true, transformation: [{ width: 40 }] });
await expectRefused('a changed query transformation', queryForm.replace('tr=w-40', 'tr=w-400'), invalid);

// Expired: made by the SDK an hour ago, for 60 seconds.
const expired = withClockShiftedBy(-3600, () =>
  client.helper.buildSrc({ src: plain.filePath, urlEndpoint, expiresIn: 60 }),
);
await expectRefused('a URL whose ik-t has passed', expired, 'The signed URL has expired.');

// Signed with a key this server does not have.
const foreign = sdk('private_not_a_key_of_this_server').helper.buildSrc({
  src: plain.filePath,
  urlEndpoint,
  signed: true,
});
await expectRefused('a URL signed with another key', foreign, invalid);
