// Folio browser upload demo: plain JavaScript, no build step, no libraries.
//
// The flow is the one ImageKit documents for secure client-side upload:
//   1. POST {uploadPayload, expire, publicKey} to the token endpoint -> {token}
//   2. POST the same parameters + token + file to /api/v2/files/upload (XMLHttpRequest, so that
//      the upload can report progress and be cancelled)
//   3. show the file object Folio answers, or its error message.
//
// Files above RESUMABLE_ABOVE go to Folio's resumable endpoint instead (tus 1.0, with the small
// client in tus-client.js): the token creates the upload, then the file goes in chunks that
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

  // ---- Resumable uploads: the shared tus client (tus-client.js, `FolioTus`) ----------------

  let currentJob = null; // the resumable upload in progress, for the Pause/Resume buttons

  function resumable(file, params, token) {
    const job = new FolioTus.ResumableUpload({
      endpoint: config.resumableEndpoint,
      file,
      name: params.fileName,
      token,
      chunkSize: CHUNK_SIZE,
      hooks: {
        progress: setProgress,
        status: (text) => setStatus(text),
        sent: () => setStatus('Sent. Folio is verifying and storing the file…'),
        done: (outcome) => {
          endJob(job);
          if (outcome.ok) {
            showFile(outcome.body);
            setStatus(`Uploaded ${outcome.body.name || params.fileName}.`, 'success');
          } else {
            if (outcome.body) showResponse(outcome.body);
            setStatus((outcome.body && outcome.body.message) || `The upload failed (HTTP ${outcome.status}).`, 'error');
          }
        },
        failed: (message, body) => {
          endJob(job);
          if (body) showResponse(body);
          setStatus(message, 'error');
        },
        paused: (message) => {
          showPauseControls(true);
          setStatus(message);
        },
      },
    });
    currentJob = job;
    cancelCurrent = () => cancelJob(job);
    showPauseControls(false);
    job.start();
  }

  function endJob(job) {
    if (currentJob === job) currentJob = null;
    finish();
  }

  async function cancelJob(job) {
    cancelCurrent = () => {}; // still busy until Folio has answered
    showPauseControls(null);
    cancelButton.disabled = true;
    setStatus('Cancelling…');
    const removed = await job.cancel();
    if (currentJob === job) currentJob = null;
    finish();
    setProgress(0, 1);
    setStatus(
      removed
        ? 'Upload cancelled. Folio keeps nothing of a cancelled upload.'
        : 'Upload cancelled. Folio could not be reached; it removes the unfinished upload when it expires.',
    );
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
    showPauseControls(false);
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
