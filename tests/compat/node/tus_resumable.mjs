// A resumable upload (spec resumable.md) with the real tus-js-client in Node: 64 MiB in 8 MiB
// chunks through a loopback relay that cuts every connection at about 30 %, then resumed the
// way an app that restarted does (findPreviousUploads + resumeFromPreviousUpload). The served
// bytes must be the uploaded ones, and the token must not start a second upload.
//
// Tokens are minted like an integrator's backend does (jsonwebtoken, spec §10.1), a fresh one
// for each creation, from `onBeforeRequest`.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import tus from 'tus-js-client';
import { env, log, TIMEOUT_MS } from './common.mjs';

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
const CHUNK = 8 * MIB;
const CUT_AT = Math.round(SIZE * 0.3);
const ENDPOINT_PATH = '/api/v2/files/upload/resumable';
const REUSED = 'Your request contains a token that has already been used.';
// What the token pins (strings, as a browser would send them).
const PARAMS = { fileName: 'tus-node.bin', folder: '/compat/tus', useUniqueFileName: 'false' };

/** Bounds a promise: nothing here may hang the test. */
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// The file: not compressible, not a known format (so nothing but the bytes matters).
const file = crypto.randomBytes(SIZE);
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const expected = sha256(file);

const minted = [];
function mintToken() {
  const token = jwt.sign({ ...PARAMS }, env.privateKey, {
    expiresIn: 600,
    header: { alg: 'HS256', typ: 'JWT', kid: env.publicKey },
  });
  minted.push(token);
  return token;
}

/**
 * A loopback relay in front of Folio that counts the bytes clients send and, once `cutAt` of
 * them went through, resets every open connection (client side and server side): the network
 * went away in the middle of a chunk. Connections made after that are relayed as usual.
 */
async function cuttingRelay(target, cutAt) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const relay = { forwarded: 0, cut: false };
  const cutAll = () => {
    relay.cut = true;
    for (const socket of sockets) socket.resetAndDestroy();
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {}); // resets are the point here
    }
    client.on('data', (data) => {
      if (!relay.cut && relay.forwarded + data.length >= cutAt) {
        const room = cutAt - relay.forwarded;
        relay.forwarded = cutAt;
        client.pause();
        upstream.write(data.subarray(0, room), cutAll);
        return;
      }
      if (!relay.cut) relay.forwarded += data.length;
      if (!upstream.write(data)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${server.address().port}`;
  relay.close = () => {
    for (const socket of sockets) socket.destroy();
    server.close();
  };
  return relay;
}

const storagePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'folio-tus-')), 'uploads.json');
fs.writeFileSync(storagePath, '{}');
const urlStorage = new tus.FileUrlStorage(storagePath);

/** Options every Upload here shares; `seen` collects [method, status, Upload-Offset]. */
function options(endpoint, seen, extra = {}) {
  return {
    endpoint: `${endpoint}${ENDPOINT_PATH}`,
    chunkSize: CHUNK,
    metadata: { filename: PARAMS.fileName, filetype: 'application/octet-stream' },
    urlStorage,
    removeFingerprintOnSuccess: true,
    // A fresh token for each creation, asked for only when tus-js-client creates an upload:
    // HEAD and PATCH need nothing but the upload URL.
    onBeforeRequest(req) {
      if (req.getMethod() === 'POST') req.setHeader('Authorization', `Bearer ${mintToken()}`);
    },
    onAfterResponse(req, res) {
      seen.push([req.getMethod(), res.getStatus(), res.getHeader('Upload-Offset') ?? null]);
    },
    ...extra,
  };
}

/** Runs `upload` until it succeeds or fails; resolves to {ok, error}. */
function settle(upload, setup = (u) => u.start()) {
  return new Promise((resolve) => {
    upload.options.onSuccess = (payload) => resolve({ ok: true, payload });
    upload.options.onError = (error) => resolve({ ok: false, error });
    setup(upload);
  });
}

const relay = await cuttingRelay(env.base, CUT_AT);
try {
  // 1. The first run: the connection dies at ~30 %; retries are off, so the app sees the error
  //    (as if it had been closed there).
  const firstSeen = [];
  const first = new tus.Upload(file, options(relay.url, firstSeen, { retryDelays: null }));
  const cut = await within(60_000, 'the first run', settle(first));
  assert.equal(cut.ok, false, 'the first run cannot finish through the cut connection');
  assert.ok(relay.cut, 'the relay cut the connection');
  assert.equal(minted.length, 1, 'one token for the one creation');
  assert.deepEqual(firstSeen[0].slice(0, 2), ['POST', 201], `creation: ${JSON.stringify(firstSeen)}`);
  const uploadUrl = first.url;
  assert.ok(uploadUrl && uploadUrl.startsWith(`${relay.url}${ENDPOINT_PATH}/`), `upload URL ${uploadUrl}`);
  const patched = firstSeen.filter(([m, s]) => m === 'PATCH' && s === 204).length;
  assert.equal(patched, Math.floor(CUT_AT / CHUNK), `whole chunks before the cut: ${JSON.stringify(firstSeen)}`);
  log(
    `cut after ${relay.forwarded} bytes relayed (${patched} chunks acknowledged): ` +
      cut.error.message.split(',')[0],
  );

  // 2. The app starts again, the network is back: it finds the upload in its URL storage and
  //    resumes it, with tus-js-client's own retries on.
  const secondSeen = [];
  const second = new tus.Upload(file, options(relay.url, secondSeen));
  const previous = await within(TIMEOUT_MS, 'findPreviousUploads', second.findPreviousUploads());
  assert.equal(previous.length, 1, `one stored upload: ${JSON.stringify(previous)}`);
  assert.equal(previous[0].uploadUrl, uploadUrl);
  const resumed = await within(
    120_000,
    'the resumed run',
    settle(second, (u) => {
      u.resumeFromPreviousUpload(previous[0]);
      u.start();
    }),
  );
  assert.ok(resumed.ok, `the resumed run finishes: ${resumed.error && resumed.error.message}`);
  assert.equal(minted.length, 1, 'resuming needs no token');
  assert.ok(!secondSeen.some(([m]) => m === 'POST'), `no second creation: ${JSON.stringify(secondSeen)}`);
  // Retries may answer 423 while the server still ends the cut request; the first HEAD that
  // got an offset tells where the upload went on.
  const headOffset = Number(secondSeen.find(([m, s]) => m === 'HEAD' && s === 200)[2]);
  assert.ok(
    headOffset >= patched * CHUNK && headOffset <= relay.forwarded && headOffset < SIZE,
    `resumed at ${headOffset}: at least the acknowledged chunks, at most what was relayed`,
  );
  const resentBytes = SIZE - headOffset;
  log(`resumed at offset ${headOffset} (${Math.round((100 * headOffset) / SIZE)} %), ${resentBytes} bytes left to send`);

  // 3. The committed file: GET of the upload URL gives the v2 upload JSON; its url serves the
  //    uploaded bytes.
  const last = resumed.payload.lastResponse;
  assert.equal(last.getStatus(), 204);
  const fileId = last.getHeader('X-Folio-File-Id');
  assert.match(fileId, /^[0-9a-f]{24}$/, 'X-Folio-File-Id');
  const result = await fetch(uploadUrl, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(result.status, 200, `GET ${uploadUrl}`);
  const body = await result.json();
  assert.equal(body.fileId, fileId);
  assert.equal(body.filePath, `${PARAMS.folder}/${PARAMS.fileName}`);
  assert.equal(body.size, SIZE);
  const served = await fetch(body.url, { signal: AbortSignal.timeout(30_000) });
  assert.equal(served.status, 200, `GET ${body.url}`);
  const servedHash = sha256(Buffer.from(await served.arrayBuffer()));
  assert.equal(servedHash, expected, 'the served bytes are the uploaded ones');
  log(`committed ${body.filePath} (${body.fileId}), sha256 ${servedHash.slice(0, 16)}… matches`);

  // removeFingerprintOnSuccess: the same file is a new upload now.
  const after = await new tus.Upload(file, options(relay.url, [])).findPreviousUploads();
  assert.deepEqual(after, [], 'the finished upload left the URL storage');
  log('the URL storage forgot the finished upload');

  // 4. The token is spent: a creation with it (the same client, the same file) is refused.
  const spent = minted[0];
  const replaySeen = [];
  const replay = new tus.Upload(
    file,
    options(relay.url, replaySeen, {
      storeFingerprintForResuming: false,
      onBeforeRequest(req) {
        req.setHeader('Authorization', `Bearer ${spent}`);
      },
    }),
  );
  const refused = await within(TIMEOUT_MS, 'the replayed creation', settle(replay));
  assert.equal(refused.ok, false, 'a second upload with the same token is refused');
  const response = refused.error.originalResponse;
  assert.ok(response, `an HTTP answer: ${refused.error.message}`);
  assert.equal(response.getStatus(), 400);
  assert.equal(JSON.parse(response.getBody()).message, REUSED);
  assert.deepEqual(replaySeen.map(([m, s]) => [m, s]), [['POST', 400]], 'no retry of a refused creation');
  log(`creation with the spent token -> 400 "${REUSED}"`);
} finally {
  relay.close();
  fs.rmSync(path.dirname(storagePath), { recursive: true, force: true });
}
console.log('tus-js-client: all checks passed');
