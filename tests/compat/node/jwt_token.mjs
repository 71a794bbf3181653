// A V2 upload token minted by npm `jsonwebtoken` exactly as the docs' backend example does
// (spec §10.1), used by a browser-like client: plain fetch + FormData, no Authorization header.
// Accepted once, refused on replay.
import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { env, fixture, formWith, postForm, checkUploadedFile, log } from './common.mjs';

// What the browser will send, as strings (spec §2.3 rule 2).
const uploadPayload = {
  fileName: 'jwt node.jpg',
  useUniqueFileName: 'false',
  tags: 'node,jsonwebtoken',
  folder: '/compat/jsonwebtoken',
  isPrivateFile: 'false',
  responseFields: 'tags',
};
const expire = 400;

const token = jwt.sign({ ...uploadPayload }, env.privateKey, {
  expiresIn: expire,
  header: { alg: 'HS256', typ: 'JWT', kid: env.publicKey },
});
const { header, payload } = jwt.decode(token, { complete: true });
assert.deepEqual(header, { alg: 'HS256', typ: 'JWT', kid: env.publicKey });
assert.equal(payload.exp - payload.iat, expire);
log(`jsonwebtoken minted ${JSON.stringify(header)} ${JSON.stringify(payload)}`);

const send = () => postForm('/api/v2/files/upload', formWith({ ...uploadPayload, token }, fixture('tiny.jpg'), 'jwt node.jpg'));

const first = await send();
assert.equal(first.status, 200, `first upload: ${JSON.stringify(first.body)}`);
await checkUploadedFile(first.body, { fixtureName: 'tiny.jpg', name: 'jwt_node.jpg', folder: '/compat/jsonwebtoken' });
assert.deepEqual(first.body.tags, ['node', 'jsonwebtoken']);
log('first upload with the token -> 200, file object checked');

const second = await send();
assert.deepEqual(
  [second.status, second.body.message],
  [400, 'Your request contains a token that has already been used.'],
  `replay: ${JSON.stringify(second.body)}`,
);
log(`replay -> ${second.status} "${second.body.message}"`);
console.log('jsonwebtoken: all checks passed');
