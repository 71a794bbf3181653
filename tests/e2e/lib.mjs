// What the browser tests share: their environment, a bounded GET, a log with times, Chromium
// launched as the project launches it, and a throttled upload link.

import http from 'node:http';
import { chromium } from 'playwright-core';

export const STEP_MS = 20_000; // bound on every wait for the page

export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (run via cargo test)`);
  return value;
}

/** GET without keep-alive (an idle pooled socket would keep node running), bounded. */
export function get(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: STEP_MS }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within ${STEP_MS} ms`)));
    request.on('error', reject);
  });
}

export const started = Date.now();
export const log = (...args) => console.log('ok:', ...args, `(${Date.now() - started} ms)`);

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 60_000,
  });
}

/**
 * A slow upload link for `page`: a DevTools session of its own applies the network
 * conditions, and is detached to lift them (Chromium lets one session's conditions win, which
 * would keep `context.setOffline` from taking effect).
 */
export function uploadThrottle(context, page) {
  let session = null;
  return {
    async on(bytesPerSecond) {
      session = session || (await context.newCDPSession(page));
      await session.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    },
    async off() {
      if (session) await session.detach();
      session = null;
    },
  };
}
