// A small tus 1.0.0 client for Folio's resumable uploads, shared by the demo page and the
// console (served beside each as tus-client.js; no build step, no libraries).
//
// POST (creation, the token as a bearer credential) -> Location, the upload's own URL; then
// PATCH chunk after chunk at the offset Folio acknowledged; the 204 of the last one carries
// X-Folio-File-Id and GET of the upload URL gives the same JSON as a multipart upload. After
// any failure the next attempt asks Folio for its offset (HEAD) first: bytes it has are never
// sent twice, bytes it lost are sent again.
//
//   const upload = new FolioTus.ResumableUpload({ endpoint, file, token, chunkSize, hooks });
//   upload.start(); upload.pause(); upload.resume(); await upload.cancel();
//
// hooks (each optional): progress(sent, total), status(text), sent() (the last byte is out),
// done({ ok, body, status }), failed(message, body), paused(message).
'use strict';

(() => {
  const TUS_VERSION = '1.0.0';
  // Waits after failures in a row: doubled each time up to the maximum, with jitter so that
  // many pages do not come back at once. After MAX_FAILURES the upload pauses itself.
  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 15000;
  const MAX_FAILURES = 10;
  // A request that sends nothing for this long is on a dead connection.
  const STALL_MS = 30000;
  // HEAD, GET, DELETE and the creation are small; they get this long.
  const REQUEST_MS = 30000;

  class TusError extends Error {
    // `retry`: the next attempt may succeed (network, 5xx, 409, 423); otherwise the upload
    // cannot go on and `body` is Folio's JSON answer, if any.
    constructor(message, { retry = false, body = null } = {}) {
      super(message);
      this.retry = retry;
      this.body = body;
    }
  }

  function base64(text) {
    let binary = '';
    for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
    return btoa(binary);
  }

  // The page talks to the server that served it only (its CSP allows no other origin for
  // requests); a Location under a configured public URL names that same server.
  function sameOrigin(location) {
    const url = new URL(location, window.location.href);
    return url.origin === window.location.origin ? url.href : window.location.origin + url.pathname;
  }

  function parseBody(text) {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  // An answer that ends the upload: Folio's message (and JSON) when it gave one.
  function refusal(status, text, what) {
    const body = parseBody(text);
    const gone = status === 404 || status === 410;
    const message =
      (body && body.message) ||
      (gone
        ? 'Folio no longer has this upload (it expired or was removed). Start it again.'
        : `${what} failed (HTTP ${status}).`);
    return new TusError(message, { body });
  }

  const retryable = (status) => status >= 500 || status === 409 || status === 423 || status === 460;

  // An answer worth another attempt, said for the status line.
  function transient(status) {
    const reason =
      status === 423
        ? 'Folio is still finishing the previous request.'
        : status === 409
          ? 'Folio holds another offset than the page expected.'
          : `Folio answered HTTP ${status}.`;
    return new TusError(reason, { retry: true });
  }

  class ResumableUpload {
    constructor({ endpoint, file, name, token, chunkSize, hooks = {} }) {
      this.endpoint = endpoint;
      this.file = file;
      this.name = name || file.name;
      this.token = token;
      this.chunkSize = chunkSize;
      this.hooks = hooks;
      this.url = null;
      this.run = 0; // bumped by pause, resume and cancel: a drive of an older run stops
      this.abort = null;
      this.wake = null;
    }

    hook(name, ...args) {
      if (this.hooks[name]) this.hooks[name](...args);
    }

    start() {
      this.drive(this.run);
    }

    pause(message = 'Paused. Folio keeps what it received; press Resume to go on.') {
      this.stopRequests();
      this.hook('paused', message);
    }

    resume() {
      this.run += 1;
      this.hook('status', 'Resuming: asking Folio where the upload stands…');
      this.drive(this.run);
    }

    // Termination: Folio removes the bytes it has. The request that was just stopped may hold
    // the upload for a moment (423), so a few attempts. Resolves to whether Folio confirmed.
    async cancel() {
      this.stopRequests();
      let removed = !this.url;
      for (let attempt = 0; attempt < 5 && !removed; attempt += 1) {
        try {
          const response = await this.fetch('DELETE', this.url);
          removed = response.ok || response.status === 404 || response.status === 410;
        } catch {
          removed = false;
        }
        if (!removed) await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
      }
      return removed;
    }

    stopRequests() {
      this.run += 1;
      if (this.abort) this.abort();
      if (this.wake) this.wake();
    }

    // fetch with the tus header, bounded in time and abortable by pause/cancel; a network
    // failure or timeout is worth another attempt.
    async fetch(method, url, headers = {}) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_MS);
      this.abort = () => controller.abort();
      try {
        return await fetch(url, {
          method,
          headers: { 'Tus-Resumable': TUS_VERSION, ...headers },
          cache: 'no-store',
          signal: controller.signal,
        });
      } catch {
        throw new TusError('Folio could not be reached.', { retry: true });
      } finally {
        clearTimeout(timer);
        this.abort = null;
      }
    }

    async create() {
      const metadata = [`filename ${base64(this.name)}`];
      if (this.file.type) metadata.push(`filetype ${base64(this.file.type)}`);
      // A retried creation carries the same token: Folio answers with the same upload while
      // it receives, so a lost answer never makes a second upload.
      const response = await this.fetch('POST', this.endpoint, {
        Authorization: `Bearer ${this.token}`,
        'Upload-Length': String(this.file.size),
        'Upload-Metadata': metadata.join(','),
      });
      if (response.status === 201 && response.headers.get('Location')) {
        this.url = sameOrigin(response.headers.get('Location'));
        return Number(response.headers.get('Upload-Offset') || 0);
      }
      if (retryable(response.status)) throw transient(response.status);
      throw refusal(response.status, await response.text(), 'Starting the upload');
    }

    async headOffset() {
      const response = await this.fetch('HEAD', this.url);
      const offset = Number(response.headers.get('Upload-Offset'));
      if (response.ok && Number.isSafeInteger(offset) && response.headers.get('Upload-Offset') !== null) {
        return offset;
      }
      if (retryable(response.status) || response.ok) throw transient(response.status);
      throw refusal(response.status, await response.text(), 'Resuming the upload');
    }

    // One chunk (XMLHttpRequest, for upload progress); resolves to the new offset.
    patch(offset, end) {
      return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        let lastProgress = Date.now();
        let sending = true;
        let stalled = false;
        const watchdog = setInterval(() => {
          if (sending && Date.now() - lastProgress > STALL_MS) {
            stalled = true;
            xhr.abort();
          }
        }, 1000);
        const done = () => {
          clearInterval(watchdog);
          this.abort = null;
        };
        this.abort = () => xhr.abort();
        xhr.open('PATCH', this.url);
        xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
        xhr.setRequestHeader('Upload-Offset', String(offset));
        xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
        xhr.upload.addEventListener('progress', (event) => {
          lastProgress = Date.now();
          this.hook('progress', offset + event.loaded, this.file.size);
        });
        xhr.upload.addEventListener('load', () => {
          sending = false;
          if (end === this.file.size) this.hook('sent');
        });
        xhr.addEventListener('load', () => {
          done();
          const next = Number(xhr.getResponseHeader('Upload-Offset'));
          if (xhr.status === 204 && Number.isSafeInteger(next) && next > offset) {
            resolve(next);
          } else if (xhr.status === 204 || retryable(xhr.status)) {
            reject(transient(xhr.status));
          } else {
            reject(refusal(xhr.status, xhr.responseText, 'The upload'));
          }
        });
        xhr.addEventListener('error', () => {
          done();
          reject(new TusError('The connection was lost.', { retry: true }));
        });
        xhr.addEventListener('abort', () => {
          done();
          reject(new TusError(stalled ? 'The connection stalled.' : 'Stopped.', { retry: true }));
        });
        xhr.send(this.file.slice(offset, end));
      });
    }

    // Waits `ms`, or until the network is back, or until pause/resume/cancel wakes it.
    wait(ms) {
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          window.removeEventListener('online', wake);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(wake, ms);
        window.addEventListener('online', wake);
        this.wake = wake;
      });
    }

    // The upload's result: the v2 upload JSON (or error JSON) that GET of its URL keeps.
    async outcome() {
      const response = await this.fetch('GET', this.url);
      const body = parseBody(await response.text());
      if (response.status >= 500 && !body) throw transient(response.status);
      return { ok: Boolean(response.ok && body), body, status: response.status };
    }

    // Runs the upload until it ends or `this.run` changes (pause and cancel change it).
    async drive(run) {
      const uploading = `Uploading ${this.name} in chunks (resumable)…`;
      let failures = 0;
      let offset = this.url ? null : 0; // null: ask Folio first
      let said = null;
      const say = (text) => {
        if (said !== text) this.hook('status', text);
        said = text;
      };
      while (this.run === run) {
        try {
          if (!this.url) offset = await this.create();
          else if (offset === null) offset = await this.headOffset();
          if (this.run !== run) return;
          this.hook('progress', offset, this.file.size);
          if (offset >= this.file.size) {
            const outcome = await this.outcome();
            if (this.run !== run) return;
            this.stopRequests();
            this.hook('done', outcome);
            return;
          }
          say(uploading);
          // Chunks end on multiples of chunkSize, also after a cut left the offset in between.
          const end = Math.min(this.file.size, (Math.floor(offset / this.chunkSize) + 1) * this.chunkSize);
          offset = await this.patch(offset, end);
          failures = 0;
        } catch (error) {
          if (this.run !== run) return; // paused or cancelled meanwhile
          if (!error.retry) {
            this.stopRequests();
            this.hook('failed', error.message, error.body);
            return;
          }
          offset = null;
          if (navigator.onLine === false) {
            // Not a failure of Folio's: wait for the network, however long it takes.
            say('The network is gone. The upload goes on when it is back.');
            await this.wait(RETRY_MAX_MS);
            continue;
          }
          failures += 1;
          if (failures > MAX_FAILURES) {
            this.pause('Paused: Folio could not be reached. Press Resume to try again.');
            return;
          }
          const delay = Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS) * (0.75 + Math.random() / 2);
          say(`${error.message} Retrying in ${Math.max(1, Math.round(delay / 1000))} s…`);
          await this.wait(delay);
        }
      }
    }
  }

  globalThis.FolioTus = { ResumableUpload };
})();
