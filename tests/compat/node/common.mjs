// Shared by the Node compatibility scripts: the environment the Rust test passes, fixtures,
// plain HTTP helpers (bounded by timeouts) and the checks every upload response must pass.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (run via cargo test)`);
  return value;
}

export const env = {
  base: required('FOLIO_BASE_URL'),
  publicKey: required('FOLIO_PUBLIC_KEY'),
  privateKey: required('FOLIO_PRIVATE_KEY'),
  fixtures: required('FOLIO_FIXTURES'),
};

export const TIMEOUT_MS = 10_000;

export const fixturePath = (name) => path.join(env.fixtures, name);
export const fixture = (name) => fs.readFileSync(fixturePath(name));

/** Pixel size of the fixtures the scripts upload. */
export const DIMENSIONS = { 'tiny.jpg': [1, 1], 'photo-exif.jpg': [640, 480] };

export function log(...args) {
  console.log('ok:', ...args);
}

/** POSTs a FormData with global fetch: no Authorization header, like a browser. */
export async function postForm(pathname, form) {
  const response = await fetch(env.base + pathname, {
    method: 'POST',
    body: form,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${pathname}: ${response.status} with a non-JSON body: ${text}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** A form with the text fields in order, then the file part (named like a browser does). */
export function formWith(fields, bytes, filename) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type: 'image/jpeg' }), filename);
  return form;
}

/**
 * The upload file object (spec §4.2) for a new upload of fixture `fixtureName`: the keys that
 * are always present, the image keys, and the delivered bytes at `url`.
 */
export async function checkUploadedFile(file, { fixtureName, name, folder = '/', version = 1 }) {
  assert.equal(typeof file, 'object', 'response is an object');
  assert.match(file.fileId, /^[0-9a-f]{24}$/, 'fileId');
  if (name instanceof RegExp) assert.match(file.name, name, 'name');
  else assert.equal(file.name, name, 'name');
  const bytes = fixture(fixtureName);
  assert.equal(file.size, bytes.length, 'size');
  assert.equal(file.versionInfo.name, `Version ${version}`, 'versionInfo.name');
  if (version === 1) assert.equal(file.versionInfo.id, file.fileId, 'versionInfo.id of Version 1');
  else assert.match(file.versionInfo.id, /^[0-9a-f]{24}$/, 'versionInfo.id');
  assert.equal(file.filePath, `${folder === '/' ? '' : folder}/${file.name}`, 'filePath');
  assert.ok(file.url.startsWith('http://') && file.url.endsWith(file.filePath), `url ${file.url}`);
  assert.equal(file.fileType, 'image', 'fileType');
  const [width, height] = DIMENSIONS[fixtureName];
  assert.equal(file.width, width, 'width');
  assert.equal(file.height, height, 'height');
  assert.ok(file.thumbnailUrl.includes('/tr:n-ik_ml_thumbnail/'), `thumbnailUrl ${file.thumbnailUrl}`);
  assert.equal(file.AITags, null, 'AITags');

  const delivered = await fetch(file.url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(delivered.status, 200, `GET ${file.url}`);
  assert.deepEqual(Buffer.from(await delivered.arrayBuffer()), bytes, 'delivered bytes');
}

/** Width and height of a JPEG, read from its first frame header (SOFn). */
export function jpegSize(bytes) {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) throw new Error(`not a JPEG marker at ${i}`);
    const marker = bytes[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return [bytes.readUInt16BE(i + 7), bytes.readUInt16BE(i + 5)];
    }
    i += 2 + bytes.readUInt16BE(i + 2);
  }
  throw new Error('no JPEG frame header');
}
