// The V1 client-side path the browser SDK uses: authentication parameters {token, expire,
// signature} from folio-token (FOLIO_V1_PARAMS), from the Node SDK's helper and from plain
// node:crypto, each posted to /api/v1/files/upload with publicKey: 200, then the replay error.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import ImageKit from '@imagekit/nodejs';
import { env, fixture, formWith, postForm, checkUploadedFile, log } from './common.mjs';

const hmacSha1 = (token, expire) =>
  crypto.createHmac('sha1', env.privateKey).update(`${token}${expire}`).digest('hex');
const helper = new ImageKit({ privateKey: env.privateKey, baseURL: env.base }).helper;

const fromFolio = JSON.parse(process.env.FOLIO_V1_PARAMS ?? 'null');
assert.ok(fromFolio, 'FOLIO_V1_PARAMS is set');
assert.deepEqual(Object.keys(fromFolio).sort(), ['expire', 'signature', 'token']);
assert.ok(Number.isInteger(fromFolio.expire), 'expire is a JSON number');
// Same inputs, same signature in all three implementations.
assert.equal(hmacSha1(fromFolio.token, fromFolio.expire), fromFolio.signature, 'node:crypto agrees');
assert.deepEqual(helper.getAuthenticationParameters(fromFolio.token, fromFolio.expire), fromFolio, 'SDK helper agrees');
log('folio-token, the SDK helper and node:crypto compute the same signature');

const now = Math.floor(Date.now() / 1000);
const ownToken = crypto.randomUUID();
const sources = {
  'folio-token authentication_parameters': fromFolio,
  '@imagekit/nodejs helper.getAuthenticationParameters()': helper.getAuthenticationParameters(),
  'node:crypto HMAC-SHA1': { token: ownToken, expire: now + 1800, signature: hmacSha1(ownToken, now + 1800) },
};

let n = 0;
for (const [source, auth] of Object.entries(sources)) {
  n += 1;
  const fields = {
    fileName: `v1-${n}.jpg`,
    useUniqueFileName: 'false',
    publicKey: env.publicKey,
    token: auth.token,
    expire: String(auth.expire),
    signature: auth.signature,
  };
  const send = () => postForm('/api/v1/files/upload', formWith(fields, fixture('tiny.jpg'), fields.fileName));
  const first = await send();
  assert.equal(first.status, 200, `${source}: ${JSON.stringify(first.body)}`);
  await checkUploadedFile(first.body, { fixtureName: 'tiny.jpg', name: fields.fileName });
  const replay = await send();
  assert.deepEqual(
    [replay.status, replay.body.message],
    [400, 'Your request contains a token that has already been used.'],
    `${source} replay: ${JSON.stringify(replay.body)}`,
  );
  log(`${source}: v1 upload -> 200, replay -> 400 "${replay.body.message}"`);
}
console.log('v1 signature: all checks passed');
