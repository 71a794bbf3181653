// Folio browser upload demo: plain JavaScript, no build step, no libraries.
//
// The flow is the one ImageKit documents for secure client-side upload:
//   1. POST {uploadPayload, expire, publicKey} to the token endpoint -> {token}
//   2. POST the same parameters + token + file to /api/v2/files/upload (XMLHttpRequest, so that
//      the upload can report progress and be cancelled)
//   3. show the file object Folio answers, or its error message.
//
// Files above RESUMABLE_ABOVE go to Folio's resumable endpoint instead (tus 1.0, with a small
// client of its own below): the token creates the upload, then the file goes in chunks that
// survive a lost connection (retried with back-off from the offset Folio reports) and can be
// paused and resumed.
//
// Before any of it, the page asks GET /api/v2/limits what the server accepts: a file over its
// size limit is refused in the page, and a device clock far from the server's is pointed out.
'use strict';

(() => {
  const config = JSON.parse(document.getElementById('demo-config').textContent);
  const $ = (id) => document.getElementById(id);

  const form = $('upload-form');
  const drop = $('drop');
  const fileInput = $('file');
  const fileChosen = $('file-chosen');
  const fileNameInput = $('fileName');
  const folderInput = $('folder');
  const tagsInput = $('tags');
  const uniqueInput = $('unique');
  const uploadButton = $('upload');
  const cancelButton = $('cancel');
  const pauseButton = $('pause');
  const resumeButton = $('resume');
  const progress = $('progress');
  const progressText = $('progress-text');
  const status = $('status');
  const result = $('result');
  const uploaded = $('uploaded');
  const previewFigure = $('preview-figure');
  const preview = $('preview');
  const fileLink = $('file-link');
  const resultJson = $('result-json');
  const limitsNote = $('limits');
  const clockNote = $('clock-note');

  // Above this size a file goes to the resumable endpoint: where a lost connection or a proxy's
  // body limit would cost the most.
  const RESUMABLE_ABOVE = 8 * 1024 * 1024;
  // One PATCH at most: below common proxy body limits, small enough that a cut costs little,
  // and Folio's S3 part size (5 MiB), so that aligned chunks become whole parts.
  const CHUNK_SIZE = 5 * 1024 * 1024;

  let chosen = null; // the File to upload
  let cancelCurrent = null; // set while a token request or an upload runs
  let limits = null; // what the server accepts (GET /api/v2/limits), once it answered

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    const units = ['KB', 'MB', 'GB'];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  function setStatus(text, kind = 'info') {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function setProgress(loaded, total) {
    const max = Math.max(total, 1);
    progress.max = max;
    progress.value = Math.min(loaded, max);
    const percent = Math.floor((Math.min(loaded, max) * 100) / max);
    progressText.textContent = `${percent} %`;
  }

  // What the server accepts, asked once: a file over its class's size limit is refused here,
  // before a token is minted or a byte is sent. The server's clock comes with it: a device
  // whose clock is off by more than the token leeway is told so.
  async function loadLimits() {
    try {
      const query = new URLSearchParams({ publicKey: config.publicKey });
      const response = await fetch(`${config.limitsEndpoint}?${query}`, { cache: 'no-store' });
      if (!response.ok) return;
      limits = await response.json();
    } catch {
      return; // the server checks again anyway
    }
    limitsNote.textContent = limits.sizeLimits
      .map((c) => `${c.class === 'video' ? 'Videos' : 'Other files'} up to ${formatBytes(c.maxBytes)}`)
      .join(' · ');
    const skew = Math.round(limits.serverTime - Date.now() / 1000);
    if (Math.abs(skew) > limits.token.clockLeewaySecs) {
      const minutes = Math.max(1, Math.round(Math.abs(skew) / 60));
      clockNote.textContent = `This device's clock is ${minutes} min ${skew > 0 ? 'behind' : 'ahead of'} the server's. Tokens are checked by the server's clock.`;
      clockNote.hidden = false;
    }
  }

  // Why `file` cannot be uploaded, or null. The browser's MIME type comes from the name; the
  // server classifies the bytes themselves and has the last word.
  function sizeProblem(file) {
    if (!limits) return null;
    const matches = (pattern) => pattern === '*/*' || file.type.startsWith(pattern.replace('*', ''));
    const sizeClass = limits.sizeLimits.find((c) => matches(c.mimeTypes));
    if (!sizeClass || file.size <= sizeClass.maxBytes) return null;
    const what = sizeClass.class === 'video' ? 'videos' : 'files';
    return `${file.name} is ${formatBytes(file.size)}: this server takes ${what} up to ${formatBytes(sizeClass.maxBytes)}.`;
  }

  function choose(file) {
    chosen = file;
    if (file) {
      fileChosen.textContent = `${file.name} · ${formatBytes(file.size)}`;
      fileNameInput.placeholder = file.name;
      const problem = sizeProblem(file);
      if (problem) setStatus(problem, 'error');
      else setStatus('Ready to upload.');
    } else {
      fileChosen.textContent = 'No file chosen';
      fileNameInput.placeholder = '';
    }
    drop.classList.toggle('has-file', Boolean(file));
  }

  function setBusy(busy) {
    uploadButton.disabled = busy;
    cancelButton.disabled = !busy;
    drop.setAttribute('aria-disabled', String(busy));
    form.setAttribute('aria-busy', String(busy));
    if (!busy) showPauseControls(null);
  }

  // Pause and Resume exist only while a resumable upload runs; `paused` says which one applies.
  function showPauseControls(paused) {
    pauseButton.hidden = paused === null;
    resumeButton.hidden = paused === null;
    pauseButton.disabled = paused !== false;
    resumeButton.disabled = paused !== true;
  }

  // The parameters are read once, here: the token is minted for exactly these values and the
  // upload sends exactly these values, whatever happens to the inputs in between.
  function collectParams() {
    const params = { fileName: fileNameInput.value.trim() || chosen.name };
    const folder = folderInput.value.trim();
    if (folder) params.folder = folder;
    const tags = tagsInput.value
      .split(',')
      .map((tag) => tag.trim())
      .filter(Boolean)
      .join(',');
    if (tags) params.tags = tags;
    // Every value is a string: the server compares the form fields with the token's payload
    // byte for byte.
    if (!uniqueInput.checked) params.useUniqueFileName = 'false';
    return params;
  }

  async function readJson(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { message: text.trim() || `HTTP ${response.status}` };
    }
  }

  async function requestToken(params, signal) {
    const response = await fetch(config.authEndpoint, {
      method: 'POST',
      headers: {
        // The token endpoint only serves authenticated users; in demo mode the server handed
        // this page its bearer token.
        Authorization: `Bearer ${config.bearer}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ uploadPayload: params, expire: config.expire, publicKey: config.publicKey }),
      cache: 'no-store',
      signal,
    });
    const body = await readJson(response);
    if (!response.ok || typeof body.token !== 'string') {
      throw new Error(`No upload token: ${body.message || `HTTP ${response.status}`}`);
    }
    return body.token;
  }

  function showResponse(body) {
    result.hidden = false;
    resultJson.textContent = JSON.stringify(body, null, 2);
  }

  function showFile(file) {
    showResponse(file);
    uploaded.hidden = false;
    fileLink.href = file.url;
    fileLink.textContent = `Open ${file.filePath || file.url}`;
    const sources = file.fileType === 'image' ? [file.thumbnailUrl, file.url].filter(Boolean) : [];
    if (sources.length === 0) {
      previewFigure.hidden = true;
      preview.removeAttribute('src');
      return;
    }
    let next = 0;
    preview.onerror = () => {
      // The thumbnail could not be shown: try the original, then give up on a preview.
      next += 1;
      if (next < sources.length) preview.src = sources[next];
      else previewFigure.hidden = true;
    };
    preview.alt = `Preview of ${file.name}`;
    previewFigure.hidden = false;
    preview.src = sources[0];
  }

  function clearResult() {
    result.hidden = true;
    uploaded.hidden = true;
    previewFigure.hidden = true;
    preview.removeAttribute('src');
    resultJson.textContent = '';
  }

  function finish() {
    cancelCurrent = null;
    setBusy(false);
  }

  function upload(params, token) {
    const data = new FormData();
    for (const [name, value] of Object.entries(params)) data.append(name, value);
    data.append('token', token);
    // Last, so that Folio can check the token before the bytes arrive.
    data.append('file', chosen, params.fileName);

    const xhr = new XMLHttpRequest();
    cancelCurrent = () => xhr.abort();
    xhr.open('POST', config.uploadEndpoint);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) setProgress(event.loaded, event.total);
    });
    xhr.upload.addEventListener('load', () => {
      setProgress(1, 1);
      setStatus('Sent. Folio is verifying the token and storing the file…');
    });
    xhr.addEventListener('load', () => {
      finish();
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        showFile(body);
        setStatus(`Uploaded ${body.name || params.fileName}.`, 'success');
      } else {
        if (body) showResponse(body);
        setStatus((body && body.message) || `The upload failed (HTTP ${xhr.status}).`, 'error');
      }
    });
    xhr.addEventListener('error', () => {
      finish();
      setStatus('The upload did not reach Folio (network error). Try again.', 'error');
    });
    xhr.addEventListener('abort', () => {
      finish();
      setProgress(0, 1);
      setStatus('Upload cancelled. Folio keeps nothing of a cancelled upload.');
    });
    xhr.send(data);
  }

  // ---- Resumable uploads: a small tus 1.0.0 client ----------------------------------------
  //
  // POST (creation, the token as a bearer credential) -> Location, the upload's own URL; then
  // PATCH chunk after chunk at the offset Folio acknowledged; the 204 of the last one carries
  // X-Folio-File-Id and GET of the upload URL gives the same JSON as a multipart upload. After
  // any failure the next attempt asks Folio for its offset (HEAD) first: bytes it has are never
  // sent twice, bytes it lost are sent again.

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

  let currentJob = null; // the resumable upload in progress, for the Pause/Resume buttons

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

  // fetch with the tus header, bounded in time and abortable by Pause/Cancel; a network
  // failure or timeout is worth another attempt.
  async function tusFetch(job, method, url, headers = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_MS);
    job.abort = () => controller.abort();
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
      job.abort = null;
    }
  }

  async function create(job) {
    const metadata = [`filename ${base64(job.file.name)}`];
    if (job.file.type) metadata.push(`filetype ${base64(job.file.type)}`);
    // A retried creation carries the same token: Folio answers with the same upload while it
    // receives, so a lost answer never makes a second upload.
    const response = await tusFetch(job, 'POST', config.resumableEndpoint, {
      Authorization: `Bearer ${job.token}`,
      'Upload-Length': String(job.file.size),
      'Upload-Metadata': metadata.join(','),
    });
    if (response.status === 201 && response.headers.get('Location')) {
      job.url = sameOrigin(response.headers.get('Location'));
      return Number(response.headers.get('Upload-Offset') || 0);
    }
    if (retryable(response.status)) throw transient(response.status);
    throw refusal(response.status, await response.text(), 'Starting the upload');
  }

  async function headOffset(job) {
    const response = await tusFetch(job, 'HEAD', job.url);
    const offset = Number(response.headers.get('Upload-Offset'));
    if (response.ok && Number.isSafeInteger(offset) && response.headers.get('Upload-Offset') !== null) {
      return offset;
    }
    if (retryable(response.status) || response.ok) throw transient(response.status);
    throw refusal(response.status, await response.text(), 'Resuming the upload');
  }

  // One chunk (XMLHttpRequest, for upload progress); resolves to the new offset.
  function patch(job, offset, end) {
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
        job.abort = null;
      };
      job.abort = () => xhr.abort();
      xhr.open('PATCH', job.url);
      xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
      xhr.setRequestHeader('Upload-Offset', String(offset));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.upload.addEventListener('progress', (event) => {
        lastProgress = Date.now();
        setProgress(offset + event.loaded, job.file.size);
      });
      xhr.upload.addEventListener('load', () => {
        sending = false;
        if (end === job.file.size) setStatus('Sent. Folio is verifying and storing the file…');
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
      xhr.send(job.file.slice(offset, end));
    });
  }

  // Waits `ms`, or until the network is back, or until Pause/Resume/Cancel wakes it.
  function wait(job, ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        window.removeEventListener('online', wake);
        job.wake = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      window.addEventListener('online', wake);
      job.wake = wake;
    });
  }

  // The upload's result: the v2 upload JSON (or error JSON) that GET of its URL keeps.
  async function showOutcome(job) {
    const response = await tusFetch(job, 'GET', job.url);
    const body = parseBody(await response.text());
    if (response.status >= 500 && !body) throw transient(response.status);
    return { ok: response.ok && body, body, status: response.status };
  }

  // Runs the upload until it ends or `job.run` changes (Pause and Cancel change it).
  async function drive(job, run) {
    const uploading = `Uploading ${job.params.fileName} in chunks (resumable)…`;
    let failures = 0;
    let offset = job.url ? null : 0; // null: ask Folio first
    while (job.run === run) {
      try {
        if (!job.url) offset = await create(job);
        else if (offset === null) offset = await headOffset(job);
        if (job.run !== run) return;
        setProgress(offset, job.file.size);
        if (offset >= job.file.size) {
          const outcome = await showOutcome(job);
          if (job.run !== run) return;
          endJob(job);
          if (outcome.ok) {
            showFile(outcome.body);
            setStatus(`Uploaded ${outcome.body.name || job.params.fileName}.`, 'success');
          } else {
            if (outcome.body) showResponse(outcome.body);
            setStatus((outcome.body && outcome.body.message) || `The upload failed (HTTP ${outcome.status}).`, 'error');
          }
          return;
        }
        if (status.textContent !== uploading) setStatus(uploading);
        // Chunks end on multiples of CHUNK_SIZE, also after a cut left the offset in between.
        const end = Math.min(job.file.size, (Math.floor(offset / CHUNK_SIZE) + 1) * CHUNK_SIZE);
        offset = await patch(job, offset, end);
        failures = 0;
      } catch (error) {
        if (job.run !== run) return; // paused or cancelled meanwhile
        if (!error.retry) {
          endJob(job);
          if (error.body) showResponse(error.body);
          setStatus(error.message, 'error');
          return;
        }
        offset = null;
        if (navigator.onLine === false) {
          // Not a failure of Folio's: wait for the network, however long it takes.
          setStatus('The network is gone. The upload goes on when it is back.');
          await wait(job, RETRY_MAX_MS);
          continue;
        }
        failures += 1;
        if (failures > MAX_FAILURES) {
          pauseJob(job, 'Paused: Folio could not be reached. Press Resume to try again.');
          return;
        }
        const delay = Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), RETRY_MAX_MS) * (0.75 + Math.random() / 2);
        setStatus(`${error.message} Retrying in ${Math.max(1, Math.round(delay / 1000))} s…`);
        await wait(job, delay);
      }
    }
  }

  function stopRequests(job) {
    job.run += 1;
    if (job.abort) job.abort();
    if (job.wake) job.wake();
  }

  function endJob(job) {
    stopRequests(job);
    if (currentJob === job) currentJob = null;
    finish();
  }

  function pauseJob(job, message) {
    stopRequests(job);
    showPauseControls(true);
    setStatus(message);
  }

  async function cancelJob(job) {
    cancelCurrent = () => {}; // still busy until Folio has answered
    stopRequests(job);
    showPauseControls(null);
    cancelButton.disabled = true;
    setStatus('Cancelling…');
    // Termination: Folio removes the bytes it has. The request that was just stopped may hold
    // the upload for a moment (423), so a few attempts.
    let removed = !job.url;
    for (let attempt = 0; attempt < 5 && !removed; attempt += 1) {
      try {
        const response = await tusFetch(job, 'DELETE', job.url);
        removed = response.ok || response.status === 404 || response.status === 410;
      } catch {
        removed = false;
      }
      if (!removed) await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
    }
    if (currentJob === job) currentJob = null;
    finish();
    setProgress(0, 1);
    setStatus(
      removed
        ? 'Upload cancelled. Folio keeps nothing of a cancelled upload.'
        : 'Upload cancelled. Folio could not be reached; it removes the unfinished upload when it expires.',
    );
  }

  function resumable(file, params, token) {
    const job = { file, params, token, url: null, run: 0, abort: null, wake: null };
    job.pause = () => pauseJob(job, 'Paused. Folio keeps what it received; press Resume to go on.');
    job.resume = () => {
      job.run += 1;
      showPauseControls(false);
      setStatus('Resuming: asking Folio where the upload stands…');
      drive(job, job.run);
    };
    currentJob = job;
    cancelCurrent = () => cancelJob(job);
    showPauseControls(false);
    drive(job, job.run);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (cancelCurrent) return;
    if (!chosen) {
      setStatus('Choose a file first.', 'error');
      drop.focus();
      return;
    }
    const problem = sizeProblem(chosen);
    if (problem) {
      setStatus(problem, 'error');
      return;
    }
    const params = collectParams();
    clearResult();
    setBusy(true);
    setProgress(0, 1);
    const controller = new AbortController();
    cancelCurrent = () => controller.abort();
    setStatus('Asking the token endpoint for an upload token…');
    let token;
    try {
      token = await requestToken(params, controller.signal);
    } catch (error) {
      finish();
      if (error.name === 'AbortError') setStatus('Cancelled before the upload started.');
      else setStatus(error.message, 'error');
      return;
    }
    if (config.resumableEndpoint && chosen.size > RESUMABLE_ABOVE) {
      resumable(chosen, params, token);
      return;
    }
    setStatus(`Uploading ${params.fileName}…`);
    upload(params, token);
  });

  cancelButton.addEventListener('click', () => {
    if (cancelCurrent) cancelCurrent();
  });
  // The button pressed turns disabled: keyboard focus moves to the one that undoes it.
  pauseButton.addEventListener('click', () => {
    if (!currentJob) return;
    currentJob.pause();
    resumeButton.focus();
  });
  resumeButton.addEventListener('click', () => {
    if (!currentJob) return;
    currentJob.resume();
    pauseButton.focus();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && cancelCurrent) cancelCurrent();
  });

  // The drop zone: click, Enter or Space opens the file picker; a dropped file is taken as is.
  const isBusy = () => cancelCurrent !== null;
  drop.addEventListener('click', () => {
    if (!isBusy()) fileInput.click();
  });
  drop.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      if (!isBusy()) fileInput.click();
    }
  });
  fileInput.addEventListener('change', () => choose(fileInput.files[0] || null));
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      if (!isBusy()) drop.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'dragend']) {
    drop.addEventListener(type, () => drop.classList.remove('dragging'));
  }
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('dragging');
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file && !isBusy()) choose(file);
  });
  // A file dropped next to the zone must not make the browser navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());

  loadLimits();
})();
