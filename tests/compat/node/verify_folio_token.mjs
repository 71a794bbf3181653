// Tokens minted by folio-token (library and `folio token` CLI) verify under npm `jsonwebtoken`,
// and their payload is what the spec says: params as strings, integer iat/exp, a jti.
// FOLIO_TOKENS: JSON array of {source, token, params, lifetime}.
import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { env, log } from './common.mjs';

const tokens = JSON.parse(process.env.FOLIO_TOKENS ?? '[]');
assert.ok(tokens.length > 0, 'FOLIO_TOKENS lists tokens');

for (const { source, token, params, lifetime } of tokens) {
  const payload = jwt.verify(token, env.privateKey, { algorithms: ['HS256'] });
  const { header } = jwt.decode(token, { complete: true });
  assert.deepEqual(header, { alg: 'HS256', typ: 'JWT', kid: env.publicKey }, `${source}: header`);

  const { iat, exp, jti, ...rest } = payload;
  assert.deepEqual(rest, params, `${source}: params, as strings, and nothing else`);
  for (const value of Object.values(rest)) assert.equal(typeof value, 'string');
  assert.ok(Number.isInteger(iat) && Number.isInteger(exp), `${source}: integer iat/exp`);
  assert.equal(exp - iat, lifetime, `${source}: exp - iat`);
  assert.ok(Math.abs(iat - Date.now() / 1000) < 300, `${source}: iat is now`);
  assert.ok(typeof jti === 'string' && jti.length > 0, `${source}: jti`);

  // The checks bite: another key or another algorithm is refused.
  assert.throws(() => jwt.verify(token, env.privateKey + 'x', { algorithms: ['HS256'] }), /invalid signature/);
  assert.throws(() => jwt.verify(token, env.privateKey, { algorithms: ['HS512'] }), /invalid algorithm/);
  log(`${source}: jsonwebtoken.verify accepted ${JSON.stringify(payload)}`);
}
console.log('jsonwebtoken verify: all checks passed');
