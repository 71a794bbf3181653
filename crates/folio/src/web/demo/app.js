// Folio browser upload demo: plain JavaScript, no build step, no libraries.
//
// The flow is the one ImageKit documents for secure client-side upload:
//   1. POST {uploadPayload, expire, publicKey} to the token endpoint -> {token}
//   2. POST the same parameters + token + file to /api/v2/files/upload (XMLHttpRequest, so that
//      the upload can report progress and be cancelled)
//   3. show the file object Folio answers, or its error message.
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
  const progress = $('progress');
  const progressText = $('progress-text');
  const status = $('status');
  const result = $('result');
  const uploaded = $('uploaded');
  const previewFigure = $('preview-figure');
  const preview = $('preview');
  const fileLink = $('file-link');
  const resultJson = $('result-json');

  let chosen = null; // the File to upload
  let cancelCurrent = null; // set while a token request or an upload runs

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

  function choose(file) {
    chosen = file;
    if (file) {
      fileChosen.textContent = `${file.name} · ${formatBytes(file.size)}`;
      fileNameInput.placeholder = file.name;
      setStatus('Ready to upload.');
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

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (cancelCurrent) return;
    if (!chosen) {
      setStatus('Choose a file first.', 'error');
      drop.focus();
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
    setStatus(`Uploading ${params.fileName}…`);
    upload(params, token);
  });

  cancelButton.addEventListener('click', () => {
    if (cancelCurrent) cancelCurrent();
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
})();
