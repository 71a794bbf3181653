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

// A request that strays from its token: the body says which parameter and how, never a value,
// next to the unchanged wire message; an expired token comes with the server's clock.
{
  // A `jti` tells it from the token above (minted in the same second, it would be the same one).
  const strayToken = jwt.sign({ ...uploadPayload }, env.privateKey, {
    expiresIn: expire,
    jwtid: 'stray',
    header: { alg: 'HS256', typ: 'JWT', kid: env.publicKey },
  });
  const stray = await postForm(
    '/api/v2/files/upload',
    formWith({ ...uploadPayload, tags: 'node,other', token: strayToken }, fixture('tiny.jpg'), 'jwt node.jpg'),
  );
  assert.deepEqual(
    [stray.status, stray.body.message, stray.body.code, stray.body.param, stray.body.problem],
    [
      400,
      'Your request contains invalid payload. It does not match with the payload used to generate token.',
      'TOKEN_PAYLOAD_MISMATCH',
      'tags',
      'differs',
    ],
    JSON.stringify(stray.body),
  );
  assert.ok(!JSON.stringify(stray.body).includes('other'), 'no value is echoed');
  log(`changed tags -> ${stray.status} ${stray.body.code} ${stray.body.param} ${stray.body.problem}`);

  const now = Math.floor(Date.now() / 1000);
  const stale = jwt.sign({ fileName: 'late.jpg', iat: now - 600 }, env.privateKey, {
    expiresIn: 60,
    header: { alg: 'HS256', typ: 'JWT', kid: env.publicKey },
  });
  const late = await postForm('/api/v2/files/upload', formWith({ fileName: 'late.jpg', token: stale }, fixture('tiny.jpg'), 'late.jpg'));
  assert.deepEqual([late.status, late.body.message, late.body.code], [400, 'Your request contains expired token.', 'TOKEN_EXPIRED']);
  assert.ok(Number.isInteger(late.body.serverTime) && Math.abs(late.body.serverTime - now) < 60, JSON.stringify(late.body));
  log(`expired token -> ${late.status} ${late.body.code} serverTime ${late.body.serverTime}`);
}

// The documentation's backend endpoint, line for line (in a block of its own, for its names),
// fed the JSON body its browser example posts (expire 3600: the longest lifetime, exactly at
// the server's limit).
{
  const req = {
    body: JSON.parse(
      JSON.stringify({ uploadPayload: { fileName: 'abc.jpg' }, expire: 3600, publicKey: env.publicKey }),
    ),
  };
  const payload = req.body;
  const seedToken = jwt.sign(payload.uploadPayload, env.privateKey, {
    expiresIn: payload.expire,
    header: {
      alg: 'HS256',
      typ: 'JWT',
      kid: payload.publicKey,
    },
  });
  const seedClaims = jwt.decode(seedToken);
  assert.equal(seedClaims.exp - seedClaims.iat, 3600);
  const seedUpload = await postForm(
    '/api/v2/files/upload',
    formWith({ fileName: 'abc.jpg', token: seedToken }, fixture('tiny.jpg'), 'abc.jpg'),
  );
  assert.equal(seedUpload.status, 200, `documented backend's token: ${JSON.stringify(seedUpload.body)}`);
  assert.match(seedUpload.body.name, /^abc_[A-Za-z0-9_-]+\.jpg$/);
  log(`the documented backend's jwt.sign(payload.uploadPayload, …, {expiresIn: 3600, …}) -> 200 ${seedUpload.body.filePath}`);
}
console.log('jsonwebtoken: all checks passed');
