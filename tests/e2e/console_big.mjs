// The console on a large library: sign in, open a folder of 1,000 files among 100,000 and time
// the first page (from the click to the first tile on screen; reported, not asserted: the Rust
// side prints it); then let the session expire (the server gives FOLIO_SESSION_SECS) and see
// the next action land on the sign-in. Prints `RESULT {json}`.
//
// Environment: FOLIO_CONSOLE_URL, FOLIO_PRIVATE_KEY, FOLIO_SESSION_SECS, FOLIO_SCREENSHOT_DIR,
// CHROMIUM_PATH.

import { STEP_MS, launchChromium, log, required } from './lib.mjs';

const consoleUrl = required('FOLIO_CONSOLE_URL');
const privateKey = required('FOLIO_PRIVATE_KEY');
const sessionSecs = Number(required('FOLIO_SESSION_SECS'));

const browser = await launchChromium();
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(STEP_MS);
  await page.goto(consoleUrl);
  await page.fill('#private-key', privateKey);
  await page.click('#signin-form button[type=submit]');
  const signedInAt = Date.now();
  await page.locator('#tree button', { hasText: 'big' }).waitFor();
  // Twice: the first opening also warms the server's caches and the database's pages.
  for (const round of ['cold', 'warm']) {
    await page.locator('#tree button', { hasText: 'All files' }).click();
    await page.locator('#where', { hasText: /^\/$/ }).waitFor();
    const started = await page.evaluate(() => performance.now());
    await page.locator('#tree button', { hasText: 'big' }).click();
    await page.waitForFunction(() => document.querySelector('#grid li[data-file-id]'));
    result[`${round}FirstPageMs`] = Math.round((await page.evaluate(() => performance.now())) - started);
    log(`${round}: first page of /big/ in ${result[`${round}FirstPageMs`]} ms`);
  }
  result.tiles = await page.locator('#grid li[data-file-id]').count();
  result.moreShown = await page.isVisible('#more');

  // The session expires on the server; the next page of the folder asks for the sign-in.
  await page.waitForTimeout(Math.max(0, signedInAt + sessionSecs * 1000 + 1500 - Date.now()));
  await page.click('#more');
  await page.locator('#signin:not([hidden])').waitFor();
  result.afterExpiry = await page.textContent('#signin-error');
  log('expired session: sign-in shown:', result.afterExpiry);
} finally {
  await browser.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);
