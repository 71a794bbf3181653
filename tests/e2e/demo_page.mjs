// The demo upload page (`folio serve --demo`) in headless Chromium, as a person uses it.
// Run by crates/folio/tests/it/browser.rs against a fresh server in demo mode; prints one
// `ok:` line per check and, last, `RESULT <json>` for the Rust side's storage checks.
//
//   1. accessibility basics; a file picked from the keyboard through the drop zone
//   2. upload: progress reaches 100 %, the thumbnail renders, `url` serves the same bytes, and
//      its `tr:w-50,f-avif` rendition decodes in Chromium
//   3. screenshots at desktop and phone width (no horizontal scrolling on the phone)
//   4. a token minted for other parameters than the upload sends -> the server's mismatch message;
//      a file over the size limit the server announces -> refused in the page, nothing sent
//   5. a throttled 20 MiB file dropped on the page, its upload (resumable, being above the page's
//      threshold) cancelled -> nothing at the would-be path
//   6. a throttled 24 MiB file: a chunk's connection reset, paused, resumed, the browser offline
//      and back online -> one creation, never sent again from 0, the served bytes hash like the
//      ones made in the page
//   7. a device clock 10 minutes behind the server's -> the page says so
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { get, launchChromium, log, required, started, STEP_MS, uploadThrottle } from './lib.mjs';

const pageUrl = required('FOLIO_DEMO_URL');
const shotDir = required('FOLIO_SCREENSHOT_DIR');
const RESUMABLE_SIZE = 24 * 1024 * 1024; // above the page's resumable threshold (8 MiB)
const MISMATCH =
  'Your request contains invalid payload. It does not match with the payload used to generate token.';


const browser = await launchChromium();

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  // Listen for file pickers from the start: Playwright turns on interception when the first
  // listener is added, asynchronously, and a picker opened before that would be missed.
  let nextChooser;
  const chooserOpened = new Promise((resolve) => {
    nextChooser = resolve;
  });
  page.on('filechooser', (chooser) => nextChooser(chooser));
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Chromium logs failed resource loads as console errors. Expected ones: the refused upload
  // (400); a chunk sent while Folio still ends the request that Pause stopped (423, retried by
  // the page); requests while the browser is offline, or on a connection the test resets.
  const expectedLoadErrors = [
    'status of 400',
    'status of 423',
    'net::ERR_INTERNET_DISCONNECTED',
    'net::ERR_CONNECTION_RESET',
  ];
  page.on('console', (message) => {
    if (message.type() === 'error' && !expectedLoadErrors.some((e) => message.text().includes(e))) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  const link = uploadThrottle(context, page);

  const response = await page.goto(pageUrl);
  assert.equal(response.status(), 200, 'the page loads');
  log('page loaded', pageUrl);

  // 1. Accessibility basics.
  const a11y = await page.evaluate(() => {
    const visible = (el) => !el.hidden && el.getClientRects().length > 0;
    const unlabeled = [...document.querySelectorAll('input, progress, select, textarea')]
      .filter(visible)
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.id || el.outerHTML);
    const drop = document.getElementById('drop');
    const status = document.getElementById('status');
    return {
      unlabeled,
      drop: [drop.getAttribute('role'), drop.tabIndex, Boolean(drop.getAttribute('aria-label'))],
      live: status.getAttribute('aria-live'),
      lang: document.documentElement.lang,
    };
  });
  assert.deepEqual(a11y.unlabeled, [], 'every control has a label');
  assert.deepEqual(a11y.drop, ['button', 0, true], 'the drop zone is a named, focusable button');
  assert.equal(a11y.live, 'polite', 'status messages are announced');
  assert.equal(a11y.lang, 'en');
  log('labels, drop zone role/tabindex/name, aria-live status');

  // An image made in the page itself: a gradient with a word on it.
  const image = Buffer.from(
    await page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 400;
      const g = canvas.getContext('2d');
      const gradient = g.createLinearGradient(0, 0, 640, 400);
      gradient.addColorStop(0, '#2457d6');
      gradient.addColorStop(1, '#f2a541');
      g.fillStyle = gradient;
      g.fillRect(0, 0, 640, 400);
      g.fillStyle = '#ffffff';
      g.font = 'bold 88px sans-serif';
      g.textAlign = 'center';
      g.fillText('Folio', 320, 230);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    }),
  );

  // The drop zone is operable from the keyboard: focus it, press Enter, get the file picker.
  await page.focus('#drop');
  await page.keyboard.press('Enter');
  let timer;
  const chooser = await Promise.race([
    chooserOpened,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('Enter on the drop zone opened no file picker')), STEP_MS);
    }),
  ]);
  clearTimeout(timer);
  await chooser.setFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: image });
  assert.match(await page.textContent('#file-chosen'), /^sunset\.png · /);
  log('file chosen from the keyboard through the drop zone');

  // 2. Upload with optional fields; record every progress value the page shows.
  await page.fill('#folder', '/e2e');
  await page.fill('#tags', 'sunset, demo');
  await page.evaluate(() => {
    window.progressSeen = [];
    const bar = document.getElementById('progress');
    new MutationObserver(() => window.progressSeen.push([bar.value, bar.max])).observe(bar, {
      attributes: true,
    });
  });
  await page.click('#upload');
  await page.waitForFunction(() => ['success', 'error'].includes(document.getElementById('status').dataset.kind));
  const status = await page.textContent('#status');
  assert.equal(await page.getAttribute('#status', 'data-kind'), 'success', `upload failed: ${status}`);
  const file = JSON.parse(await page.textContent('#result-json'));
  assert.match(file.name, /^sunset_[A-Za-z0-9_-]+\.png$/, 'a unique suffix was added');
  assert.equal(file.filePath, `/e2e/${file.name}`);
  assert.equal(file.size, image.length);
  log(`uploaded ${file.filePath}: "${status}"`);

  const bar = await page.evaluate(() => {
    const p = document.getElementById('progress');
    return { value: p.value, max: p.max, text: document.getElementById('progress-text').textContent };
  });
  assert.equal(bar.value, bar.max, 'the progress bar is full');
  assert.equal(bar.text, '100 %');
  const seen = await page.evaluate(() => window.progressSeen);
  assert.ok(seen.some(([value, max]) => value === max && max > 1), `progress reached its byte total: ${JSON.stringify(seen)}`);
  log(`progress reached 100 % (${seen.length} updates)`);

  await page.waitForFunction(() => {
    const img = document.getElementById('preview');
    return !document.getElementById('preview-figure').hidden && img.complete && img.naturalWidth > 0;
  });
  const preview = await page.evaluate(() => {
    const img = document.getElementById('preview');
    return { src: img.currentSrc, width: img.naturalWidth, alt: img.alt };
  });
  assert.equal(preview.src, file.thumbnailUrl, 'the preview is the thumbnail');
  assert.ok(preview.width > 0 && preview.alt.includes(file.name));
  log(`thumbnail rendered (${preview.width} px wide)`);

  // The AVIF round trip: Folio encodes `f-avif`, Chromium's own decoder reads it back.
  const avifUrl = `${file.url.slice(0, file.url.length - file.filePath.length)}/tr:w-50,f-avif${file.filePath}`;
  const avif = await page.evaluate(async (src) => {
    const type = (await fetch(src)).headers.get('content-type');
    const img = new Image();
    img.src = src;
    await img.decode();
    return { type, width: img.naturalWidth, height: img.naturalHeight };
  }, avifUrl);
  assert.equal(avif.type, 'image/avif');
  assert.equal(avif.width, 50, `decoded AVIF ${JSON.stringify(avif)}`);
  assert.ok(avif.height === 31 || avif.height === 32, `decoded AVIF ${JSON.stringify(avif)}`);
  log(`f-avif decoded by Chromium: ${avif.width}x${avif.height}`);

  const delivered = await get(file.url);
  assert.equal(delivered.status, 200);
  assert.ok(delivered.body.equals(image), 'url serves the uploaded bytes');
  assert.equal(await page.getAttribute('#file-link', 'href'), file.url);
  log('url serves the same bytes');

  // 3. Screenshots: desktop, then phone width.
  fs.mkdirSync(shotDir, { recursive: true });
  await page.screenshot({ path: path.join(shotDir, 'demo.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow} px)`);
  await page.screenshot({ path: path.join(shotDir, 'demo-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  log(`screenshots in ${shotDir}`);

  // 4. Tampering: the token is minted for a different fileName than the one the page then
  //    sends (as if the request had been altered after the token was issued).
  await page.route('**/demo/auth', async (route) => {
    const body = JSON.parse(route.request().postData());
    body.uploadPayload.fileName = 'approved-by-backend.png';
    await route.continue({ postData: JSON.stringify(body) });
  });
  await page.setInputFiles('#file', { name: 'tampered.png', mimeType: 'image/png', buffer: image });
  await page.fill('#fileName', 'tampered.png');
  await page.click('#upload');
  await page.waitForFunction(() => document.getElementById('status').dataset.kind === 'error');
  assert.equal(await page.textContent('#status'), MISMATCH);
  assert.equal(await page.isVisible('#uploaded'), false, 'no file is shown after a refusal');
  await page.unroute('**/demo/auth');
  log('tampered upload refused with the server message');

  // The limits the page read from GET /api/v2/limits (the defaults): a 26 MiB file is refused
  // before a token is asked for or a byte is sent.
  assert.equal(await page.textContent('#limits'), 'Videos up to 300 MB · Other files up to 25 MB');
  assert.equal(await page.isHidden('#clock-note'), true, 'no clock warning on a synchronised device');
  const sent = [];
  const watch = (request) => {
    if (/\/demo\/auth|\/api\/v2\/files\/upload/.test(request.url())) sent.push(request.url());
  };
  page.on('request', watch);
  await page.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(26 * 1024 * 1024)], 'huge.bin', { type: 'application/octet-stream' }));
    const drop = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      drop.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  });
  await page.fill('#fileName', '');
  await page.click('#upload');
  assert.equal(await page.getAttribute('#status', 'data-kind'), 'error');
  assert.equal(await page.textContent('#status'), 'huge.bin is 26 MB: this server takes files up to 25 MB.');
  await page.waitForTimeout(300);
  page.off('request', watch);
  assert.deepEqual(sent, [], 'nothing was sent for a file over the limit');
  log('a file over the announced limit refused in the page, nothing sent');

  // 5. Cancel half-way through a throttled 20 MiB upload.
  await link.on(2 * 1024 * 1024); // bytes per second: the upload would take about 10 s
  // Made in the page and dropped on the drop zone (the other way in; it also spares sending
  // 20 MiB through the automation channel).
  await page.evaluate(() => {
    const bytes = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'big.bin', { type: 'application/octet-stream' }));
    const drop = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      drop.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  });
  assert.equal(await page.textContent('#file-chosen'), 'big.bin · 20 MB', 'the dropped file is chosen');
  await page.fill('#fileName', 'big.bin');
  await page.uncheck('#unique'); // a fixed name, so that the would-be path is known
  await page.click('#upload');
  await page.waitForFunction(
    () => {
      const p = document.getElementById('progress');
      return p.max > 1 && p.value / p.max >= 0.05;
    },
    null,
    { polling: 50 },
  );
  const atCancel = await page.evaluate(() => {
    const p = document.getElementById('progress');
    return p.value / p.max;
  });
  assert.ok(atCancel < 0.9, `cancelled before the end (at ${Math.round(atCancel * 100)} %)`);
  await page.click('#cancel');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Upload cancelled'));
  assert.equal(await page.textContent('#progress-text'), '0 %');
  assert.equal(await page.isDisabled('#upload'), false, 'the form is usable again');
  await link.off();
  log(`cancelled at ${Math.round(atCancel * 100)} %`);

  const endpoint = file.url.slice(0, file.url.length - file.filePath.length);
  const wouldBe = `${endpoint}/e2e/big.bin`;
  const missing = await get(wouldBe);
  assert.equal(missing.status, 404, `${wouldBe} after cancel`);
  log(`nothing at ${wouldBe}`);

  // 6. A file above the resumable threshold, throttled: paused and resumed, then the network
  //    goes away and comes back; the page goes on from Folio's offset each time.
  const tusRequests = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/v2/files/upload/resumable')) {
      tusRequests.push([request.method(), request.headers()['upload-offset'] ?? null]);
    }
  });
  // The second chunk's connection is reset once (the browser stays online): the page must
  // retry by itself.
  const CHUNK_PATH = '**/api/v2/files/upload/resumable/*';
  let reset = false;
  await page.route(CHUNK_PATH, (route) => {
    const request = route.request();
    if (!reset && request.method() === 'PATCH' && request.headers()['upload-offset'] === String(5 * 1024 * 1024)) {
      reset = true;
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  // Every status the page announces.
  await page.evaluate(() => {
    window.statusSeen = [];
    const line = document.getElementById('status');
    new MutationObserver(() => window.statusSeen.push(line.textContent)).observe(line, { childList: true });
  });
  const UPLOAD_RATE = 4 * 1024 * 1024; // bytes per second: about 6 s for the whole file
  await link.on(UPLOAD_RATE);
  const bigHash = await page.evaluate(async (size) => {
    // Not compressible, made in the page: a xorshift stream.
    const words = new Uint32Array(size / 4);
    let x = 0x9e3779b9;
    for (let i = 0; i < words.length; i += 1) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    const bytes = new Uint8Array(words.buffer);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'resumable.bin', { type: 'application/octet-stream' }));
    const drop = document.getElementById('drop');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      drop.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }, RESUMABLE_SIZE);
  await page.fill('#fileName', 'resumable.bin');
  await page.fill('#folder', '/e2e/resumable');
  assert.equal(await page.isVisible('#pause'), false, 'no Pause button before a resumable upload');
  await page.click('#upload');
  const progressAtLeast = (fraction) =>
    page.waitForFunction(
      (f) => {
        const p = document.getElementById('progress');
        return p.max > 1 && p.value / p.max >= f;
      },
      fraction,
      { polling: 50 },
    );
  const progressNow = () =>
    page.evaluate(() => {
      const p = document.getElementById('progress');
      return p.value / p.max;
    });
  await page.waitForFunction(() => window.statusSeen.some((t) => t.startsWith('The connection was lost.')));
  await page.unroute(CHUNK_PATH);
  assert.ok(reset, 'the second chunk met a reset connection');
  const retried = await page.evaluate(() => window.statusSeen.find((t) => t.startsWith('The connection was lost.')));
  log(`a reset connection: "${retried}"`);
  await progressAtLeast(0.3);
  assert.equal(await page.isEnabled('#pause'), true, 'Pause is offered while the upload runs');
  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Paused'));
  assert.equal(await page.isEnabled('#resume'), true);
  assert.equal(await page.isDisabled('#pause'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'resume', 'focus moves to Resume');
  const atPause = await progressNow();
  await page.waitForTimeout(600);
  assert.equal(await progressNow(), atPause, 'nothing is sent while paused');
  await page.screenshot({ path: path.join(shotDir, 'demo-paused.png'), fullPage: true });
  log(`paused at ${Math.round(atPause * 100)} %`);
  await page.click('#resume');
  await progressAtLeast(0.6);
  log(`resumed, at ${Math.round((await progressNow()) * 100)} %`);

  // The throttle's own DevTools session would keep its conditions in force over Playwright's.
  await link.off();
  await context.setOffline(true);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('The network is gone'));
  log(`offline: "${await page.textContent('#status')}"`);
  await page.waitForTimeout(1000);
  await context.setOffline(false);
  await link.on(UPLOAD_RATE);
  await page.waitForFunction(() => ['success', 'error'].includes(document.getElementById('status').dataset.kind), null, {
    timeout: 60_000,
  });
  assert.equal(
    await page.getAttribute('#status', 'data-kind'),
    'success',
    `resumable upload failed: ${await page.textContent('#status')}`,
  );
  await link.off();
  const resumed = JSON.parse(await page.textContent('#result-json'));
  assert.equal(resumed.filePath, `/e2e/resumable/${resumed.name}`);
  assert.equal(resumed.size, RESUMABLE_SIZE);
  assert.equal(await page.isVisible('#pause'), false, 'Pause goes away with the upload');
  const creations = tusRequests.filter(([method]) => method === 'POST').length;
  assert.equal(creations, 1, `one creation: ${JSON.stringify(tusRequests)}`);
  const patchOffsets = tusRequests.filter(([method]) => method === 'PATCH').map(([, offset]) => Number(offset));
  assert.ok(patchOffsets.filter((offset) => offset === 0).length <= 1, `never sent again from 0: ${patchOffsets}`);
  assert.ok(tusRequests.filter(([method]) => method === 'HEAD').length >= 2, 'asked Folio for the offset on resume and after the cut');
  const servedBig = await get(resumed.url);
  assert.equal(servedBig.status, 200);
  const servedHash = crypto.createHash('sha256').update(servedBig.body).digest('hex');
  assert.equal(servedHash, bigHash, 'the served bytes are the ones made in the page');
  log(`uploaded ${resumed.filePath} in ${patchOffsets.length} chunks, sha256 matches`);

  // 7. A device whose clock is 10 minutes behind the server's.
  const skewed = await browser.newContext();
  await skewed.addInitScript(() => {
    const realNow = Date.now;
    Date.now = () => realNow() - 10 * 60 * 1000;
  });
  const skewedPage = await skewed.newPage();
  await skewedPage.goto(pageUrl);
  await skewedPage.waitForSelector('#clock-note', { state: 'visible', timeout: STEP_MS });
  assert.equal(
    await skewedPage.textContent('#clock-note'),
    "This device's clock is 10 min behind the server's. Tokens are checked by the server's clock.",
  );
  await skewed.close();
  log('a device clock 10 min behind is pointed out');

  assert.deepEqual(problems, [], 'no script errors or CSP violations on the page');
  console.log(`RESULT ${JSON.stringify({ uploaded: file, cancelledUrl: wouldBe, resumable: resumed })}`);
  console.log(`demo page: all checks passed in ${Date.now() - started} ms`);
} finally {
  await browser.close();
}
