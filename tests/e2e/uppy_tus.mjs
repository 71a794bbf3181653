// Uppy (@uppy/core + @uppy/tus) uploading from the demo page (`folio serve --demo`) in headless
// Chromium: a 100 MiB file made in the page, on a throttled link, the browser put offline
// mid-way and back online; the upload must finish with the same bytes (spec resumable.md).
// Run by crates/folio/tests/it/browser.rs against a fresh server in demo mode; prints one
// `ok:` line per check and, last, `RESULT <json>` for the Rust side's storage checks.
//
// Uppy is not part of the page: esbuild bundles the two packages from node_modules at test
// time, and the bundle is served to the page from its own origin by a Playwright route (the
// page's CSP allows scripts from 'self' only, and stays as it is).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { get, launchChromium, log, required, started, STEP_MS, uploadThrottle } from './lib.mjs';

const pageUrl = required('FOLIO_DEMO_URL');
const UPLOAD_MS = 120_000; // bound on the whole upload
const MIB = 1024 * 1024;
const SIZE = 100 * MIB;
const CHUNK = 8 * MIB;
const RATE = 25 * MIB; // bytes per second while throttled: about 4 s of sending in all
const FOLDER = '/e2e/uppy';


const bundled = await build({
  stdin: {
    contents: "import Uppy from '@uppy/core';\nimport Tus from '@uppy/tus';\nwindow.FolioE2E = { Uppy, Tus };\n",
    resolveDir: path.dirname(fileURLToPath(import.meta.url)),
    loader: 'js',
  },
  bundle: true,
  write: false,
  format: 'iife',
  target: 'chrome120',
  logLevel: 'silent',
});
const bundle = bundled.outputFiles[0].text;
log(`bundled @uppy/core + @uppy/tus (${Math.round(bundle.length / 1024)} KiB)`);

const browser = await launchChromium();

try {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Requests while offline fail, and a chunk retried while Folio still ends the one the cut
    // stopped may meet its lock (423); tus-js-client retries both.
    const expected = ['net::ERR_INTERNET_DISCONNECTED', 'status of 423'];
    if (message.type() === 'error' && !expected.some((e) => message.text().includes(e))) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  const tusRequests = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/v2/files/upload/resumable')) {
      tusRequests.push([request.method(), request.headers()['upload-offset'] ?? null]);
    }
  });

  const link = uploadThrottle(context, page);

  const bundleUrl = new URL('e2e-uppy.js', pageUrl).href;
  await page.route(bundleUrl, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: bundle }),
  );
  const response = await page.goto(pageUrl);
  assert.equal(response.status(), 200, 'the demo page loads');
  await page.addScriptTag({ url: bundleUrl });
  log('demo page loaded, Uppy added from its own origin');

  // Uppy set up as an app would: the tus endpoint, and a fresh token from the demo's token
  // endpoint for each creation, pinning the file's name and a folder.
  const expected = await page.evaluate(
    async ({ size, chunkSize, folder }) => {
      const config = JSON.parse(document.getElementById('demo-config').textContent);
      const { Uppy, Tus } = window.FolioE2E;
      const state = { tokens: 0, progress: 0, offlineSeen: false, outcome: null };
      window.e2e = state;
      const uppy = new Uppy({ id: 'e2e', autoProceed: false });
      uppy.use(Tus, {
        endpoint: new URL(config.resumableEndpoint, window.location.href).href,
        chunkSize,
        removeFingerprintOnSuccess: true,
        retryDelays: [0, 1000, 2000, 3000, 5000],
        async onBeforeRequest(req, file) {
          if (req.getMethod() !== 'POST') return;
          const answer = await fetch(config.authEndpoint, {
            method: 'POST',
            headers: { Authorization: `Bearer ${config.bearer}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({
              uploadPayload: { fileName: file.name, folder, useUniqueFileName: 'false' },
              expire: config.expire,
              publicKey: config.publicKey,
            }),
          });
          const { token } = await answer.json();
          state.tokens += 1;
          req.setHeader('Authorization', `Bearer ${token}`);
        },
      });
      uppy.on('upload-progress', (_file, progress) => {
        state.progress = progress.bytesUploaded / progress.bytesTotal;
      });
      uppy.on('is-offline', () => {
        state.offlineSeen = true;
      });
      uppy.on('upload-success', (_file, answer) => {
        state.uploadURL = answer.uploadURL;
      });
      uppy.on('upload-error', (_file, error) => {
        state.error = String(error);
      });

      // Not compressible, made in the page: a xorshift stream.
      const words = new Uint32Array(size / 4);
      let x = 0x2545f491;
      for (let i = 0; i < words.length; i += 1) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = x >>> 0;
      }
      const bytes = new Uint8Array(words.buffer);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      uppy.addFile({ name: 'uppy.bin', type: 'application/octet-stream', data: new Blob([bytes]) });
      window.e2eUppy = uppy;
      return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    },
    { size: SIZE, chunkSize: CHUNK, folder: FOLDER },
  );
  log(`100 MiB made in the page, sha256 ${expected.slice(0, 16)}…`);

  await link.on(RATE);
  await page.evaluate(() => {
    window.e2eUppy.upload().then(
      (result) => {
        window.e2e.outcome = { successful: result.successful.length, failed: result.failed.length };
      },
      (error) => {
        window.e2e.outcome = { thrown: String(error) };
      },
    );
  });
  await page.waitForFunction(() => window.e2e.progress >= 0.3, null, { polling: 50 });
  log(`throttled upload at ${Math.round((await page.evaluate(() => window.e2e.progress)) * 100)} %`);

  await link.off();
  await context.setOffline(true);
  const offlineAt = await page.evaluate(() => window.e2e.progress);
  await page.waitForTimeout(1500);
  const whileOffline = await page.evaluate(() => ({
    online: navigator.onLine,
    progress: window.e2e.progress,
    outcome: window.e2e.outcome,
  }));
  assert.equal(whileOffline.online, false, 'the page is offline');
  assert.equal(whileOffline.outcome, null, `the upload neither finished nor gave up offline: ${JSON.stringify(whileOffline)}`);
  assert.ok(whileOffline.progress < 1, 'not finished while offline');
  await context.setOffline(false);
  await link.on(RATE);
  log(`offline for 1.5 s at ${Math.round(offlineAt * 100)} %, back online`);

  await page.waitForFunction(() => window.e2e.outcome !== null, null, { timeout: UPLOAD_MS, polling: 100 });
  await link.off();
  const state = await page.evaluate(() => window.e2e);
  assert.deepEqual(state.outcome, { successful: 1, failed: 0 }, `Uppy's result: ${JSON.stringify(state)}`);
  assert.equal(state.tokens, 1, 'one token: the upload was created once');
  assert.ok(state.offlineSeen, 'Uppy noticed the browser going offline');
  const creations = tusRequests.filter(([method]) => method === 'POST').length;
  assert.equal(creations, 1, `one creation: ${JSON.stringify(tusRequests)}`);
  const heads = tusRequests.filter(([method]) => method === 'HEAD').length;
  assert.ok(heads >= 1, `resumed from HEAD's offset: ${JSON.stringify(tusRequests)}`);
  const patches = tusRequests.filter(([method]) => method === 'PATCH').map(([, offset]) => Number(offset));
  assert.ok(patches.filter((offset) => offset === 0).length <= 1, `never sent again from 0: ${patches}`);
  log(`Uppy finished: ${patches.length} PATCHes, ${heads} HEAD, one creation`);

  const stored = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')));
  assert.deepEqual(stored, [], 'removeFingerprintOnSuccess: nothing left to resume');

  // The upload URL answers GET with the v2 upload JSON; its url serves the bytes.
  const result = await get(state.uploadURL);
  assert.equal(result.status, 200, `GET ${state.uploadURL}`);
  const file = JSON.parse(result.body.toString('utf8'));
  assert.equal(file.filePath, `${FOLDER}/uppy.bin`);
  assert.equal(file.size, SIZE);
  const served = await get(file.url);
  assert.equal(served.status, 200, `GET ${file.url}`);
  const hash = crypto.createHash('sha256').update(served.body).digest('hex');
  assert.equal(hash, expected, 'the served bytes are the ones made in the page');
  log(`committed ${file.filePath}, the served bytes hash the same`);

  assert.deepEqual(problems, [], 'no script errors or CSP violations on the page');
  console.log(`RESULT ${JSON.stringify({ uploaded: file })}`);
  console.log(`uppy: all checks passed in ${Date.now() - started} ms`);
} finally {
  await browser.close();
}
