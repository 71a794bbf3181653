// The console in headless Chromium: sign in (a wrong key first), upload four files at once by
// drop and one by paste, search (and a query with an error), open a file's details, restore an
// older version, add a tag and a description, copy a signed URL and fetch it, bulk-delete two
// files, create a custom metadata field and set it, preview a transformation (and a refused
// one), rename, bulk-tag, filter and sort, create and delete a folder, see a page from another origin fail to act, lose the session and land on
// the sign-in, and fit a phone's width. Prints `RESULT {json}` for the Rust side.
//
// Environment: FOLIO_CONSOLE_URL (…/console/), FOLIO_PRIVATE_KEY, FOLIO_OTHER_ORIGIN (the same
// server under another host name, i.e. another site), FOLIO_FIXTURES (the media fixtures),
// FOLIO_SCREENSHOT_DIR, CHROMIUM_PATH.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STEP_MS, get, launchChromium, log, required, uploadThrottle } from './lib.mjs';

const consoleUrl = required('FOLIO_CONSOLE_URL');
const privateKey = required('FOLIO_PRIVATE_KEY');
const otherOrigin = required('FOLIO_OTHER_ORIGIN');
const shots = required('FOLIO_SCREENSHOT_DIR');
const fixtures = required('FOLIO_FIXTURES');
fs.mkdirSync(shots, { recursive: true });

const browser = await launchChromium();
const result = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(consoleUrl).origin });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  let promptAnswer = 'holiday';
  // Chromium may report a dialog that is already gone (seen now and then right after a
  // confirm); the step that wanted it fails on its own outcome, so the rejection is not fatal.
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.accept(dialog.type() === 'prompt' ? promptAnswer : undefined)
      .catch((e) => dialogs.push(`  not accepted: ${e.message.split('\n')[0]}`));
  });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The status line says `text`; if it does not in time, the failure says what it said
  // instead, and the last dialogs and page errors.
  const statusSays = async (text) => {
    try {
      await page.locator('#status', { hasText: text }).waitFor();
    } catch (e) {
      const said = await page.locator('#status').textContent().catch(() => '<unreadable>');
      throw new Error(`the status line never said ${JSON.stringify(text)}; it says ${JSON.stringify(said)}; `
        + `last dialogs: ${JSON.stringify(dialogs.slice(-4))}; page errors: ${JSON.stringify(pageErrors)}`, { cause: e });
    }
  };
  // Everything the page does must fit its Content-Security-Policy.
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  // ---- sign in
  await page.goto(consoleUrl);
  await page.locator('#signin').waitFor();
  await page.fill('#private-key', 'private_wrong');
  await page.click('#signin-form button[type=submit]');
  await page.locator('#signin-error', { hasText: 'Your account cannot be authenticated.' }).waitFor();
  log('a wrong key is refused with the API message');
  await page.screenshot({ path: path.join(shots, 'console-signin.png') });
  await page.fill('#private-key', privateKey);
  await page.click('#signin-form button[type=submit]');
  await page.locator('#app').waitFor();
  result.storageAfterSignIn = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  log('signed in');

  // ---- upload five files at once by drop (a PNG drawn in the page, three texts, a 9 MiB file that
  //      goes resumable), one by paste
  await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 40;
    canvas.height = 30;
    const g = canvas.getContext('2d');
    g.fillStyle = '#c33';
    g.fillRect(0, 0, 40, 30);
    const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const files = [
      new File([png], 'alpha.png', { type: 'image/png' }),
      new File(['bravo text'], 'bravo.txt', { type: 'text/plain' }),
      new File(['charlie text'], 'charlie.txt', { type: 'text/plain' }),
      new File(['delta text, first version'], 'delta.txt', { type: 'text/plain' }),
      // 9 MiB: above the console's threshold, so it goes resumable (two tus PATCHes).
      new File([new Uint8Array(9 * 1024 * 1024).fill(7)], 'foxtrot.bin', { type: 'application/octet-stream' }),
    ];
    const data = new DataTransfer();
    for (const file of files) data.items.add(file);
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => document.querySelectorAll('#uploads .state').length === 5
    && [...document.querySelectorAll('#uploads .state')].every((s) => s.textContent === 'done'));
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['echo from the clipboard'], 'echo.txt', { type: 'text/plain' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads .state')].filter((s) => s.textContent === 'done').length === 6);
  await page.locator('#grid li[data-file-id]').nth(5).waitFor();
  result.gridAfterUpload = await page.locator('#grid li[data-file-id] .label').allTextContents();
  result.resumable = await page.locator('#uploads li[data-via="resumable"] .name').allTextContents();
  log('six uploads:', result.gridAfterUpload.join(', '));

  // A second version of delta.txt, by the file picker.
  await page.setInputFiles('#file-input', { name: 'delta.txt', mimeType: 'text/plain', buffer: Buffer.from('delta text, second version') });
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads .state')].filter((s) => s.textContent === 'done').length === 7);

  // ---- a folder of files, by the folder picker: album/cover.txt and album/day2/note.txt
  const album = fs.mkdtempSync(path.join(os.tmpdir(), 'folio-console-'));
  fs.mkdirSync(path.join(album, 'album', 'day2'), { recursive: true });
  fs.writeFileSync(path.join(album, 'album', 'cover.txt'), 'the cover');
  fs.writeFileSync(path.join(album, 'album', 'day2', 'note.txt'), 'a note of day two');
  await page.setInputFiles('#folder-input', path.join(album, 'album'));
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads .state')].filter((s) => s.textContent === 'done').length === 9);
  fs.rmSync(album, { recursive: true, force: true });
  log('a folder uploaded with its sub-folder');

  // ---- a refused upload (a name over 1024 bytes): the server's message on its row, and
  //      Retry (refused again)
  const longName = `${'n'.repeat(1030)}.txt`;
  await page.evaluate((name) => {
    const data = new DataTransfer();
    data.items.add(new File(['refused'], name, { type: 'text/plain' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, longName);
  await page.locator('#uploads .failed').waitFor();
  result.refusal = await page.textContent('#uploads .failed');
  await page.locator('#uploads li', { hasText: 'nnnn' }).locator('button', { hasText: 'Retry' }).click();
  await page.locator('#uploads li', { hasText: 'nnnn' }).locator('.failed').waitFor();
  result.refusalsAfterRetry = await page.locator('#uploads .failed').count();
  log('a refused upload shows:', result.refusal);

  // ---- a cancelled upload: a 12 MiB one (resumable) on a slow link, cancelled while its first
  //      chunk is on the way; Folio is told to drop it, and nothing is kept
  const throttle = uploadThrottle(context, page);
  await throttle.on(256 * 1024);
  await page.setInputFiles('#file-input', { name: 'hotel.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(12 * 1024 * 1024, 3) });
  const hotel = page.locator('#uploads li', { hasText: 'hotel.bin' });
  await hotel.locator('.state', { hasText: 'sending' }).waitFor();
  await hotel.locator('button', { hasText: 'Cancel' }).click();
  await throttle.off();
  result.cancelledRowGone = (await hotel.count()) === 0;
  log('an upload cancelled while sending');

  // ---- a photo's EXIF summary and a video's player
  await page.setInputFiles('#file-input', [path.join(fixtures, 'photo-exif.jpg'), path.join(fixtures, 'video.mp4')]);
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads .state')].filter((s) => s.textContent === 'done').length === 11);
  await page.locator('#grid li[data-file-id]', { hasText: 'photo-exif.jpg' }).locator('.open').click();
  await page.locator('#details h2', { hasText: 'photo-exif.jpg' }).waitFor();
  await page.locator('#details dt', { hasText: 'Camera make' }).waitFor();
  result.exif = await page.$$eval('#details dl dt', (dts) => dts.map((dt) => `${dt.textContent}: ${dt.nextElementSibling.textContent}`));
  await page.locator('#grid li[data-file-id]', { hasText: 'video.mp4' }).locator('.open').click();
  await page.locator('#details video').waitFor();
  result.videoSrc = await page.getAttribute('#details video', 'src');
  for (const name of ['photo-exif.jpg', 'video.mp4']) {
    await page.locator('#grid li[data-file-id]', { hasText: name }).locator('.pick').check();
  }
  await page.click('#bulk-delete');
  await page.waitForFunction(() => ![...document.querySelectorAll('#grid li .label')].some((l) => /photo-exif|video\.mp4/.test(l.textContent)));
  log('EXIF summary and video player shown:', result.exif.filter((f) => /Camera|Taken/.test(f)).join('; '));

  // ---- a PDF, previewed in a frame
  const pdf = '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n'
    + '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';
  await page.setInputFiles('#file-input', { name: 'golf.pdf', mimeType: 'application/pdf', buffer: Buffer.from(pdf) });
  await page.waitForFunction(() => [...document.querySelectorAll('#uploads .state')].filter((s) => s.textContent === 'done').length === 12);
  await page.locator('#grid li[data-file-id]', { hasText: 'golf.pdf' }).locator('.open').click();
  await page.locator('#details iframe.pdf').waitFor();
  result.pdfFrame = await page.getAttribute('#details iframe.pdf', 'src');
  await page.locator('#details button', { hasText: 'Delete' }).last().click();
  await statusSays('golf.pdf deleted.');
  log('a PDF previewed in a frame, then deleted');

  // ---- search
  await page.fill('#search', 'name : "charlie.txt"');
  await page.click('#search-form button[type=submit]');
  await page.waitForFunction(() => {
    const labels = [...document.querySelectorAll('#grid li[data-file-id] .label')].map((l) => l.textContent);
    return labels.length === 1 && labels[0] === 'charlie.txt';
  });
  log('search finds charlie.txt');
  await page.fill('#search', 'name :');
  await page.click('#search-form button[type=submit]');
  await page.locator('#search-error:not(:empty)').waitFor();
  result.searchError = await page.textContent('#search-error');
  log('a broken query says why:', result.searchError);

  // ---- details: tag, versions, signed URL
  await page.fill('#search', 'name : "delta.txt"');
  await page.click('#search-form button[type=submit]');
  await page.locator('#grid li[data-file-id] .open').first().click();
  await page.locator('#details h2', { hasText: 'delta.txt' }).waitFor();
  result.focusOnDetails = await page.evaluate(() => document.activeElement.textContent);
  await page.locator('#details .versions button', { hasText: 'Restore Version 1' }).click();
  await statusSays('Version 1 is current again.');
  await page.locator('#details .versions button', { hasText: 'Restore Version 2' }).waitFor();
  log('version 1 restored');
  await page.fill('#tag-input', 'reviewed');
  await page.click('#details form button[type=submit]');
  await page.locator('#details .tags li', { hasText: 'reviewed' }).waitFor();
  log('tag added');
  await page.fill('#description', 'checked by QA');
  await page.locator('#details button', { hasText: 'Save description' }).click();
  await statusSays('Description saved.');
  await page.selectOption('#details select', '3600');
  await page.locator('#details button', { hasText: 'Copy signed URL' }).click();
  await page.waitForFunction(() => document.querySelector('#details .signed').value.includes('ik-s='));
  result.signedUrl = await page.inputValue('#details .signed');
  const fetched = await get(result.signedUrl);
  result.signedStatus = fetched.status;
  result.signedBody = fetched.body.toString();
  log('signed URL fetched:', fetched.status, result.signedBody);

  // ---- bulk delete two
  await page.fill('#search', '');
  await page.click('#search-form button[type=submit]');
  await page.locator('#grid li[data-file-id]').nth(5).waitFor();
  const bravo = page.locator('#grid li[data-file-id]', { hasText: 'bravo.txt' });
  const echo = page.locator('#grid li[data-file-id]', { hasText: 'echo.txt' });
  result.deletedIds = [await bravo.getAttribute('data-file-id'), await echo.getAttribute('data-file-id')];
  await bravo.locator('.pick').check();
  await echo.locator('.pick').check();
  await page.click('#bulk-delete');
  await page.waitForFunction(() => document.querySelectorAll('#grid li[data-file-id]').length === 4);
  log('two deleted in one go');

  // ---- a custom metadata field, and a value for it on alpha.png
  await page.click('#fields-button');
  await page.fill('#field-name', 'rating');
  await page.fill('#field-label', 'Rating');
  await page.selectOption('#field-type', 'Number');
  await page.locator('#details button', { hasText: 'Create field' }).click();
  await page.locator('#details .fields-list li', { hasText: 'Rating (rating, Number)' }).waitFor();
  await page.fill('#field-name', 'mood');
  await page.fill('#field-label', 'Mood');
  await page.selectOption('#field-type', 'SingleSelect');
  await page.fill('#field-options', 'happy, calm');
  await page.locator('#details button', { hasText: 'Create field' }).click();
  promptAnswer = 'happy, calm, sad';
  await page.locator('#details .fields-list li', { hasText: 'Mood (mood' }).locator('button', { hasText: 'Edit options' }).click();
  await page.locator('#details .fields-list li', { hasText: 'Mood (mood, SingleSelect: happy, calm, sad)' }).waitFor();
  promptAnswer = 'holiday';
  await page.locator('#grid li[data-file-id]', { hasText: 'alpha.png' }).locator('.open').click();
  await page.locator('#details h2', { hasText: 'alpha.png' }).waitFor();
  await page.locator('#details .custom input[data-field="rating"]').fill('4');
  await page.locator('#details button', { hasText: 'Save custom metadata' }).click();
  await statusSays('Custom metadata saved.');
  log('field created and set');

  // ---- the transformation playground: a rendition, then a refused transformation's message
  await page.fill('#tr-input', 'w-20,h-15');
  await page.locator('#details .playground').locator('..').locator('button', { hasText: 'Preview' }).click();
  await page.locator('#details .playground img').waitFor();
  result.rendition = await page.$eval('#details .playground img', (img) => new Promise((resolve) => {
    const done = () => resolve([img.naturalWidth, img.naturalHeight]);
    if (img.complete) done(); else img.onload = done;
  }));
  await page.fill('#tr-input', 'w-banana');
  await page.locator('#details .playground').locator('..').locator('button', { hasText: 'Preview' }).click();
  await page.locator('#details .playground .error').waitFor();
  result.renditionError = await page.textContent('#details .playground .error');
  log('rendition', result.rendition, 'and refusal:', result.renditionError);

  // ---- rename alpha.png
  await page.fill('#details input[aria-label="New name"]', 'alpha-red.png');
  await page.locator('#details button', { hasText: 'Rename' }).click();
  await statusSays('Renamed to alpha-red.png.');

  // ---- bulk tag (the prompt answers "holiday"), then filter by it and sort by name
  await page.locator('#grid li[data-file-id]', { hasText: 'charlie.txt' }).locator('.pick').check();
  await page.locator('#grid li[data-file-id]', { hasText: 'delta.txt' }).locator('.pick').check();
  await page.click('#bulk-tag');
  await statusSays('Tagged 2 file(s) holiday.');
  await page.fill('#filter-tag', 'holiday');
  await page.selectOption('#sort', 'DESC_NAME');
  await page.locator('#filters button[type=submit]').click();
  await page.waitForFunction(() => document.querySelectorAll('#grid li[data-file-id]').length === 2);
  result.filteredSorted = await page.locator('#grid li[data-file-id] .label').allTextContents();
  await page.fill('#filter-tag', '');
  await page.selectOption('#sort', '');
  await page.locator('#filters button[type=submit]').click();
  await page.waitForFunction(() => document.querySelectorAll('#grid li[data-file-id]').length === 4);
  log('bulk tagged, filtered and sorted:', result.filteredSorted.join(', '));

  // ---- a folder: create (the prompt answers "holiday"), rename it with a folder job (the
  //      prompt answers "rename trip"), open it, delete it
  await page.click('#new-folder');
  await page.locator('#tree button', { hasText: 'holiday' }).click();
  await page.locator('#where', { hasText: '/holiday/' }).waitFor();
  promptAnswer = 'rename trip';
  await page.click('#folder-job');
  await page.locator('#jobs li .state', { hasText: 'Completed' }).waitFor();
  result.jobRow = await page.textContent('#jobs li');
  await page.locator('#tree button', { hasText: 'trip' }).click();
  await page.locator('#where', { hasText: '/trip/' }).waitFor();
  await page.click('#delete-folder');
  await statusSays('Folder /trip/ deleted.');
  result.treeAfterFolderDelete = await page.locator('#tree button').allTextContents();
  log('folder created and deleted');

  // At the root with four files: no folder to delete, no further page.
  result.rootControlsHidden = await page.isHidden('#delete-folder') && await page.isHidden('#more');

  result.cspViolations = await page.evaluate(() => window.cspViolations);

  // ---- screenshots, desktop
  await page.locator('#grid li[data-file-id] .open').first().click();
  await page.locator('#details:not([hidden])').waitFor();
  await page.screenshot({ path: path.join(shots, 'console.png') });

  // ---- another site's page cannot act with the operator's session
  const evil = await context.newPage();
  await evil.goto(`${otherOrigin}/healthz`);
  result.crossSite = await evil.evaluate(async ({ target, ids }) => {
    const outcome = {};
    try {
      await fetch(`${target}api/v1/files/batch/deleteByFileIds`, {
        method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json', 'X-Folio-CSRF': 'guess' }, body: JSON.stringify({ fileIds: ids }),
      });
      outcome.preflighted = 'answered';
    } catch (e) {
      outcome.preflighted = `blocked: ${e.message}`;
    }
    // A simple request needs no preflight; the cookie stays home and there is no token.
    await fetch(`${target}api/v1/files/batch/deleteByFileIds`, {
      method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ fileIds: ids }),
    }).catch(() => {});
    await fetch(`${target}session`, { method: 'DELETE', mode: 'no-cors', credentials: 'include' }).catch(() => {});
    return outcome;
  }, { target: consoleUrl, ids: await page.$$eval('#grid li[data-file-id]', (items) => items.map((i) => i.dataset.fileId)) });
  await evil.close();
  await page.click('#search-form button[type=submit]');
  await page.locator('#grid:not([aria-busy])').waitFor();
  result.gridAfterCrossSite = await page.locator('#grid li[data-file-id] .label').allTextContents();
  log('another site could not act:', JSON.stringify(result.crossSite));

  // ---- phone width: nothing wider than the screen
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(200);
  result.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: path.join(shots, 'console-phone.png'), fullPage: false });
  log('phone width overflow (px):', result.phoneOverflow);

  // ---- the session ends (its cookie gone): back to the sign-in
  await context.clearCookies();
  await page.click('#search-form button[type=submit]');
  await page.locator('#signin:not([hidden])').waitFor();
  result.afterSessionEnd = await page.textContent('#signin-error');
  log('session gone: sign-in shown:', result.afterSessionEnd);

  result.pageErrors = pageErrors;
} finally {
  await browser.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);
