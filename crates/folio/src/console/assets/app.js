// The Folio console: everything goes through the management API under ./api/ (the session
// cookie and the CSRF token authenticate it) and the upload API with tokens from ./api/token.
// Every URL is relative to /console/, so the console works under a proxy's path prefix.
// Large uploads go resumable with the tus client the demo page uses too (tus-client.js).

const PAGE = 60;
// Above this size an upload goes to the resumable endpoint (tus, `FolioTus` from
// tus-client.js), in chunks of CHUNK_SIZE (Folio's S3 part size: aligned chunks become parts).
const RESUMABLE_ABOVE = 8 * 1024 * 1024;
const CHUNK_SIZE = 5 * 1024 * 1024;
/* global FolioTus */
const THUMB = /^image\//;

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

let session = null; // {publicKey, account, urlEndpoint, csrfToken, expiresAt}
let limits = null;
// Settles once the limits are known (or known to be unavailable): an upload waits for it, since
// its size check and its route (resumable or not) depend on them.
let limitsLoaded = Promise.resolve();
const view = { folder: '/', query: null, skip: 0, selected: new Set(), current: null };

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// The status line. Handlers call it last, once the view shows the change: a reader (and the
// browser tests) take the message as "done, and on screen".
function say(text) {
  $('status').textContent = text;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { $('status').textContent = ''; }, 6000);
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

async function api(method, path, body) {
  const headers = { 'X-Folio-CSRF': session ? session.csrfToken : '' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.status === 401 && path.startsWith('api/')) {
    signedOut((data && data.message) || 'Your console session has ended. Sign in again.');
  }
  if (!response.ok) {
    throw new ApiError((data && data.message) || `${response.status} ${response.statusText}`, response.status, data);
  }
  return data;
}

// ---------------------------------------------------------------- sign-in

function signedOut(message) {
  session = null;
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('private-key').focus();
}

async function boot() {
  const params = new URLSearchParams(location.search);
  try {
    const found = await fetch('session', { credentials: 'same-origin', cache: 'no-store' });
    if (found.ok) {
      await signedIn(await found.json());
      return;
    }
  } catch {
    // shown below
  }
  signedOut(params.get('signin') === 'expired' ? 'That sign-in link has expired or was already used.' : '');
}

async function signedIn(data) {
  session = data;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('account').textContent = `${data.account} · ${data.publicKey}`;
  history.replaceState(null, '', location.pathname);
  limitsLoaded = loadLimits();
  await loadTree();
  await openFolder('/');
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('private-key');
  $('signin-error').textContent = '';
  try {
    const response = await fetch('session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ privateKey: input.value }),
      credentials: 'same-origin',
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      $('signin-error').textContent = data.message || `Sign-in failed (${response.status}).`;
      return;
    }
    input.value = '';
    await signedIn(data);
  } catch (e) {
    $('signin-error').textContent = `The server cannot be reached: ${e.message}`;
  }
});

$('sign-out').addEventListener('click', async () => {
  try { await api('DELETE', 'session'); } catch { /* signed out either way */ }
  signedOut('Signed out.');
});

async function loadLimits() {
  try {
    const query = new URLSearchParams({ publicKey: session.publicKey });
    const response = await fetch(`../api/v2/limits?${query}`, { cache: 'no-store' });
    if (response.ok) limits = await response.json();
  } catch {
    limits = null; // the server checks again anyway
  }
}

// ---------------------------------------------------------------- folders and files

function folderOf(item) {
  return `${item.folderPath.replace(/\/$/, '')}/`;
}

async function loadTree(parent = '/', into = $('tree')) {
  const query = new URLSearchParams({ path: parent, type: 'folder', limit: '1000' });
  let folders = [];
  try {
    folders = await api('GET', `api/v1/files?${query}`);
  } catch (e) {
    say(e.message);
    return;
  }
  into.replaceChildren();
  if (parent === '/') {
    into.append(el('li', {}, el('button', { type: 'button', 'data-path': '/', onclick: () => openFolder('/') }, 'All files (/)')));
  }
  for (const folder of folders) {
    const path = folderOf(folder);
    const children = el('ul');
    const item = el('li', {},
      el('button', {
        type: 'button',
        'data-path': path,
        'aria-expanded': 'false',
        onclick: async (event) => {
          const button = event.currentTarget;
          if (button.getAttribute('aria-expanded') === 'false') {
            button.setAttribute('aria-expanded', 'true');
            await loadTree(path, children);
          }
          openFolder(path);
        },
      }, folder.name),
      children);
    into.append(item);
  }
}

async function openFolder(path) {
  view.folder = path;
  view.query = null;
  $('search').value = '';
  $('search-error').textContent = '';
  $('where').textContent = path;
  $('delete-folder').hidden = path === '/';
  $('folder-job').hidden = path === '/';
  for (const button of document.querySelectorAll('#tree button')) {
    button.setAttribute('aria-current', String(button.dataset.path === path));
  }
  await reload();
}

// Bumped by every reload: a page that arrives for an older one is dropped (two uploads ending
// at once reload twice; their answers must not both fill the grid).
let generation = 0;

async function reload() {
  generation += 1;
  view.skip = 0;
  view.selected.clear();
  updateBulk();
  $('grid').replaceChildren();
  await loadPage();
}

// `aria-busy` while a page of the grid is on its way: screen readers wait for it, and so can
// a test that must tell "nothing yet" from "nothing there".
function gridBusy(busy) {
  if (busy) $('grid').setAttribute('aria-busy', 'true');
  else $('grid').removeAttribute('aria-busy');
}

// The filters as a searchQuery condition (ANDed with a typed query), or null.
function filterQuery() {
  const parts = [];
  const tag = $('filter-tag').value.trim();
  if (tag) parts.push(`tags IN [${JSON.stringify(tag)}]`);
  if ($('filter-from').value) parts.push(`createdAt >= "${$('filter-from').value}"`);
  if ($('filter-to').value) parts.push(`createdAt <= "${$('filter-to').value}T23:59:59Z"`);
  const kib = Number($('filter-size').value);
  if (kib > 0) parts.push(`size >= ${Math.round(kib * 1024)}`);
  return parts.length ? parts.join(' AND ') : null;
}

async function loadPage() {
  const query = new URLSearchParams({ limit: String(PAGE), skip: String(view.skip) });
  const filters = filterQuery();
  const search = [view.query && `(${view.query})`, filters].filter(Boolean).join(' AND ');
  if (search) query.set('searchQuery', view.query && !filters ? view.query : search);
  if (!view.query) query.set('path', view.folder);
  if ($('sort').value) query.set('sort', $('sort').value);
  if ($('file-type').value !== 'all') query.set('fileType', $('file-type').value);
  const asked = generation;
  let items;
  gridBusy(true);
  try {
    items = await api('GET', `api/v1/files?${query}`);
  } catch (e) {
    if (asked !== generation) return;
    gridBusy(false);
    if (view.query && e.status === 400) $('search-error').textContent = e.message;
    else say(e.message);
    return;
  }
  if (asked !== generation) return;
  gridBusy(false);
  view.skip += items.length;
  for (const item of items) $('grid').append(tile(item));
  $('more').hidden = items.length < PAGE;
  if (view.skip === 0) $('grid').append(el('li', { class: 'empty' }, view.query ? 'Nothing matches.' : 'This folder is empty.'));
}

$('more').addEventListener('click', loadPage);
$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  reload();
});

// A delivery URL the browser may load: as it is for a public file, signed for a private one.
async function viewable(url, file) {
  if (!file.isPrivateFile) return url;
  const relative = url.slice(session.urlEndpoint.length + 1);
  const signed = await api('POST', 'api/sign', { path: relative, expireSeconds: 3600 });
  return signed.url;
}

function tile(item) {
  if (item.type === 'folder') {
    const path = folderOf(item);
    return el('li', {},
      el('button', { type: 'button', class: 'open', onclick: () => openFolder(path) },
        el('span', { class: 'icon', 'aria-hidden': 'true' }, 'Folder'),
        el('span', { class: 'label' }, item.name)));
  }
  const pick = el('input', {
    type: 'checkbox',
    class: 'pick',
    'aria-label': `Select ${item.name}`,
    onchange: (event) => {
      if (event.target.checked) view.selected.add(item.fileId);
      else view.selected.delete(item.fileId);
      updateBulk();
    },
  });
  const picture = el('span', { class: 'icon', 'aria-hidden': 'true' }, item.fileType === 'image' ? '' : (item.mime || item.fileType));
  if (item.thumbnail) {
    viewable(item.thumbnail, item).then((src) => {
      picture.replaceWith(el('img', { class: 'thumb', src, alt: '', loading: 'lazy' }));
    }).catch(() => {});
  }
  return el('li', { 'data-file-id': item.fileId },
    pick,
    el('button', { type: 'button', class: 'open', onclick: () => showDetails(item.fileId) },
      picture,
      el('span', { class: 'label' }, item.name)));
}

function updateBulk() {
  $('bulk-delete').disabled = view.selected.size === 0;
  $('bulk-tag').disabled = view.selected.size === 0;
  $('bulk-delete').textContent = view.selected.size ? `Delete selected (${view.selected.size})` : 'Delete selected';
}

$('bulk-delete').addEventListener('click', async () => {
  const ids = [...view.selected];
  if (!ids.length || !confirm(`Delete ${ids.length} file(s) with all their versions?`)) return;
  try {
    await api('POST', 'api/v1/files/batch/deleteByFileIds', { fileIds: ids });
    if (view.current && ids.includes(view.current)) closeDetails();
    await reload();
    say(`Deleted ${ids.length} file(s).`);
  } catch (e) {
    say(e.message);
  }
});

$('bulk-tag').addEventListener('click', async () => {
  const ids = [...view.selected];
  const tag = ids.length ? prompt(`Tag for ${ids.length} file(s)`) : null;
  if (!tag || !tag.trim()) return;
  try {
    await api('POST', 'api/v1/files/addTags', { fileIds: ids, tags: [tag.trim()] });
    if (view.current && ids.includes(view.current)) await showDetails(view.current);
    say(`Tagged ${ids.length} file(s) ${tag.trim()}.`);
  } catch (e) {
    say(e.message);
  }
});

$('new-folder').addEventListener('click', async () => {
  const name = prompt('Name of the new folder');
  if (!name) return;
  try {
    await api('POST', 'api/v1/folder', { folderName: name, parentFolderPath: view.folder });
    await loadTree();
    await reload();
    say(`Folder ${name} created.`);
  } catch (e) {
    say(e.message);
  }
});

$('delete-folder').addEventListener('click', async () => {
  const path = view.folder;
  if (path === '/' || !confirm(`Delete the folder ${path} with every file in it?`)) return;
  try {
    await api('DELETE', 'api/v1/folder', { folderPath: path });
    await loadTree();
    await openFolder('/');
    say(`Folder ${path} deleted.`);
  } catch (e) {
    say(e.message);
  }
});

// A folder job (rename, move, copy) runs on the server; its row follows its status.
async function followJob(label, jobId) {
  const state = el('span', { class: 'state' }, 'Pending');
  const row = el('li', { 'data-job-id': jobId }, el('span', { class: 'name' }, label), state);
  $('jobs').append(row);
  for (let i = 0; i < 600; i += 1) {
    try {
      const job = await api('GET', `api/v1/bulkJobs/${encodeURIComponent(jobId)}`);
      state.textContent = job.status;
      if (job.status === 'Completed') {
        await loadTree();
        await reload();
        say(`${label}: completed.`);
        return;
      }
    } catch (e) {
      state.textContent = e.message;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

$('folder-job').addEventListener('click', async () => {
  const source = view.folder.replace(/\/$/, '');
  const answer = prompt(
    `What to do with ${source}/: "rename NEW-NAME", "move /DESTINATION" or "copy /DESTINATION"`,
  );
  const match = answer && answer.trim().match(/^(rename|move|copy)\s+(.+)$/);
  if (!match) {
    if (answer) say('Write rename, move or copy, then the new name or the destination.');
    return;
  }
  const [, kind, argument] = match;
  try {
    const { jobId } = kind === 'rename'
      ? await api('POST', 'api/v1/bulkJobs/renameFolder', { folderPath: source, newFolderName: argument, purgeCache: false })
      : await api('POST', `api/v1/bulkJobs/${kind}Folder`, { sourceFolderPath: source, destinationPath: argument });
    if (kind !== 'copy') await openFolder('/');
    followJob(`${kind} ${source} → ${argument}`, jobId);
  } catch (e) {
    say(e.message);
  }
});

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = $('search').value.trim();
  $('search-error').textContent = '';
  view.query = text || null;
  $('where').textContent = text ? `Search: ${text}` : view.folder;
  await reload();
});

// ---------------------------------------------------------------- details

function closeDetails() {
  const was = view.current;
  view.current = null;
  $('details').hidden = true;
  $('details').replaceChildren();
  // Back to the tile the details came from, for keyboard users.
  const tile = was && document.querySelector(`#grid li[data-file-id="${was}"] .open`);
  if (tile) tile.focus();
}

document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !$('details').hidden) closeDetails();
});

async function showDetails(fileId) {
  let file;
  let versions = [];
  try {
    [file, versions] = await Promise.all([
      api('GET', `api/v1/files/${encodeURIComponent(fileId)}/details`),
      api('GET', `api/v1/files/${encodeURIComponent(fileId)}/versions`),
    ]);
  } catch (e) {
    say(e.message);
    return;
  }
  view.current = fileId;
  const panel = $('details');
  panel.hidden = false;
  const preview = el('div', { class: 'preview' });
  viewable(file.url, file).then((src) => {
    if (file.fileType === 'image') preview.append(el('img', { src, alt: file.name }));
    else if ((file.mime || '').startsWith('video/')) preview.append(el('video', { src, controls: true }));
    else if (file.mime === 'application/pdf') preview.append(el('iframe', { src, class: 'pdf', title: `${file.name} (PDF)` }));
    else if (/^text\/|json|xml/.test(file.mime || '')) {
      // The first 64 KiB, as text: the page never runs or renders what a file holds.
      fetch(src, { headers: { Range: 'bytes=0-65535' } })
        .then((r) => r.text())
        .then((text) => preview.append(el('pre', { class: 'text-preview' }, text)))
        .catch(() => {});
    }
    preview.append(el('a', { href: src, target: '_blank', rel: 'noopener noreferrer' }, 'Open the file'));
  }).catch((e) => say(e.message));

  const facts = el('dl', {},
    el('dt', {}, 'Path'), el('dd', {}, file.filePath),
    el('dt', {}, 'Size'), el('dd', {}, formatBytes(file.size)),
    el('dt', {}, 'Type'), el('dd', {}, file.mime || file.fileType),
    file.width ? [el('dt', {}, 'Dimensions'), el('dd', {}, `${file.width} × ${file.height}`)] : null,
    el('dt', {}, 'Private'), el('dd', {}, file.isPrivateFile ? 'yes' : 'no'),
    el('dt', {}, 'Published'), el('dd', {}, file.isPublished === false ? 'no' : 'yes'),
    el('dt', {}, 'Updated'), el('dd', {}, new Date(file.updatedAt).toLocaleString()));

  const tags = el('ul', { class: 'tags', 'aria-label': 'Tags' });
  const renderTags = (list) => {
    tags.replaceChildren(...(list || []).map((tag) => el('li', {}, tag,
      el('button', { type: 'button', 'aria-label': `Remove tag ${tag}`, onclick: () => saveTags((list || []).filter((t) => t !== tag)) }, '×'))));
  };
  const saveTags = async (list) => {
    try {
      const updated = await api('PATCH', `api/v1/files/${encodeURIComponent(fileId)}/details`, { tags: list });
      renderTags(updated.tags);
      say('Tags saved.');
    } catch (e) {
      say(e.message);
    }
  };
  renderTags(file.tags);
  const tagInput = el('input', { id: 'tag-input', 'aria-label': 'New tag' });
  const tagForm = el('form', { class: 'row', onsubmit: (event) => {
    event.preventDefault();
    const tag = tagInput.value.trim();
    if (!tag) return;
    tagInput.value = '';
    saveTags([...(file.tags || []), tag].filter((t, i, all) => all.indexOf(t) === i)).then(async () => {
      file = await api('GET', `api/v1/files/${encodeURIComponent(fileId)}/details`);
    });
  } }, tagInput, el('button', { type: 'submit' }, 'Add tag'));

  const versionList = el('ul', { class: 'versions', 'aria-label': 'Versions' },
    versions.map((v) => {
      const current = v.versionInfo && v.versionInfo.id === file.versionInfo.id;
      return el('li', {},
        el('span', {}, `${v.versionInfo ? v.versionInfo.name : ''} · ${formatBytes(v.size)}`),
        current ? el('strong', {}, 'current') : el('button', {
          type: 'button',
          'aria-label': `Delete ${v.versionInfo.name}`,
          onclick: async () => {
            if (!confirm(`Delete ${v.versionInfo.name} of ${file.name}?`)) return;
            try {
              await api('DELETE', `api/v1/files/${encodeURIComponent(fileId)}/versions/${encodeURIComponent(v.versionInfo.id)}`);
              await showDetails(fileId);
              say(`${v.versionInfo.name} deleted.`);
            } catch (e) {
              say(e.message);
            }
          },
        }, 'Delete'),
        current ? null : el('button', {
          type: 'button',
          onclick: async () => {
            try {
              await api('PUT', `api/v1/files/${encodeURIComponent(fileId)}/versions/${encodeURIComponent(v.versionInfo.id)}/restore`);
              await showDetails(fileId);
              await reload();
              say(`${v.versionInfo.name} is current again.`);
            } catch (e) {
              say(e.message);
            }
          },
        }, `Restore ${v.versionInfo.name}`));
    }));

  const expiry = el('select', { 'aria-label': 'Signed URL lifetime' },
    el('option', { value: '3600' }, '1 hour'),
    el('option', { value: '86400' }, '1 day'),
    el('option', { value: '604800' }, '7 days'),
    el('option', { value: '' }, 'never'));
  const signedField = el('input', { class: 'signed', readonly: true, 'aria-label': 'Signed URL' });
  const copy = el('button', { type: 'button', onclick: async () => {
    try {
      const relative = file.url.slice(session.urlEndpoint.length + 1);
      const seconds = expiry.value ? Number(expiry.value) : undefined;
      const signed = await api('POST', 'api/sign', { path: relative, expireSeconds: seconds });
      signedField.value = signed.url;
      signedField.select();
      await navigator.clipboard.writeText(signed.url).then(() => say('Signed URL copied.'), () => say('Signed URL ready.'));
    } catch (e) {
      say(e.message);
    }
  } }, 'Copy signed URL');

  const remove = el('button', { type: 'button', onclick: async () => {
    if (!confirm(`Delete ${file.name} with all its versions?`)) return;
    try {
      await api('DELETE', `api/v1/files/${encodeURIComponent(fileId)}`);
      closeDetails();
      await reload();
      say(`${file.name} deleted.`);
    } catch (e) {
      say(e.message);
    }
  } }, 'Delete');

  const patch = async (body, done) => {
    try {
      await api('PATCH', `api/v1/files/${encodeURIComponent(fileId)}/details`, body);
      await showDetails(fileId);
      say(done);
    } catch (e) {
      say(e.message);
    }
  };
  const description = el('textarea', { id: 'description', 'aria-label': 'Description' });
  description.value = file.description || '';
  const published = el('input', { type: 'checkbox', id: 'published', checked: file.isPublished !== false });
  const attributes = el('section', {}, el('h2', {}, 'Description'), description,
    el('div', { class: 'row' },
      el('button', { type: 'button', onclick: () => patch({ description: description.value }, 'Description saved.') }, 'Save description'),
      el('label', {}, published, ' Published'),
      el('button', { type: 'button', onclick: () => patch({ publish: { isPublished: published.checked } }, published.checked ? 'Published.' : 'Unpublished.') }, 'Save state')));

  const custom = el('form', { class: 'custom' });
  api('GET', 'api/v1/customMetadataFields').then((fields) => {
    if (!fields.length) {
      custom.append(el('p', { class: 'hint' }, 'No custom metadata fields yet (see Fields).'));
      return;
    }
    const inputs = fields.map((field) => {
      const value = (file.customMetadata || {})[field.name];
      const type = field.schema.type;
      let input;
      if (type === 'Boolean') {
        input = el('input', { type: 'checkbox', checked: value === true });
      } else if (type === 'SingleSelect' || type === 'MultiSelect') {
        input = el('select', { multiple: type === 'MultiSelect' }, type === 'SingleSelect' ? el('option', { value: '' }, '—') : null,
          (field.schema.selectOptions || []).map((o) => el('option', {
            value: JSON.stringify(o),
            selected: Array.isArray(value) ? value.includes(o) : value === o,
          }, String(o))));
      } else if (type === 'Textarea') {
        input = el('textarea', {});
        input.value = value === undefined ? '' : String(value);
      } else {
        input = el('input', { type: type === 'Number' ? 'number' : type === 'Date' ? 'date' : 'text', step: 'any' });
        input.value = value === undefined ? '' : (type === 'Date' ? String(value).slice(0, 10) : String(value));
      }
      input.dataset.field = field.name;
      custom.append(el('label', {}, field.label, input));
      return { field, input };
    });
    custom.append(el('button', { type: 'submit' }, 'Save custom metadata'));
    custom.onsubmit = (event) => {
      event.preventDefault();
      const metadata = {};
      for (const { field, input } of inputs) {
        const type = field.schema.type;
        if (type === 'Boolean') metadata[field.name] = input.checked;
        else if (type === 'MultiSelect') metadata[field.name] = [...input.selectedOptions].map((o) => JSON.parse(o.value));
        else if (type === 'SingleSelect') { if (input.value) metadata[field.name] = JSON.parse(input.value); }
        else if (input.value === '') continue;
        else if (type === 'Number') metadata[field.name] = Number(input.value);
        else metadata[field.name] = input.value;
      }
      patch({ customMetadata: metadata }, 'Custom metadata saved.');
    };
  }).catch((e) => custom.append(el('p', { class: 'error' }, e.message)));

  const exif = el('dl', {});
  if (file.fileType === 'image') {
    api('GET', `api/v1/files/${encodeURIComponent(fileId)}/metadata`).then((meta) => {
      const facts = { ...((meta.exif || {}).image || {}), ...((meta.exif || {}).exif || {}) };
      const wanted = [['Make', 'Camera make'], ['Model', 'Camera model'], ['DateTimeOriginal', 'Taken'],
        ['ExposureTime', 'Exposure'], ['FNumber', 'Aperture'], ['ISO', 'ISO'], ['FocalLength', 'Focal length']];
      for (const [key, label] of wanted) {
        if (facts[key] !== undefined) exif.append(el('dt', {}, label), el('dd', {}, String(facts[key])));
      }
      if (!exif.children.length) exif.append(el('dt', {}, 'EXIF'), el('dd', {}, 'none'));
    }).catch(() => {});
  }

  const newName = el('input', { 'aria-label': 'New name', value: file.name });
  const target = el('input', { 'aria-label': 'Destination folder', value: view.folder });
  const move = (kind) => async () => {
    const destination = target.value.trim() || '/';
    try {
      let done;
      if (kind === 'rename') {
        await api('PUT', 'api/v1/files/rename', { filePath: file.filePath, newFileName: newName.value.trim() });
        done = `Renamed to ${newName.value.trim()}.`;
      } else if (kind === 'move') {
        await api('POST', 'api/v1/files/move', { sourceFilePath: file.filePath, destinationPath: destination });
        done = `Moved to ${destination}.`;
      } else {
        await api('POST', 'api/v1/files/copy', { sourceFilePath: file.filePath, destinationPath: destination, includeFileVersions: false });
        done = `Copied to ${destination}.`;
      }
      await showDetails(fileId);
      await reload();
      say(done);
    } catch (e) {
      say(e.message);
    }
  };
  const organise = el('section', {}, el('h2', {}, 'Rename, move, copy'),
    el('div', { class: 'row' }, newName, el('button', { type: 'button', onclick: move('rename') }, 'Rename')),
    el('div', { class: 'row' }, target,
      el('button', { type: 'button', onclick: move('move') }, 'Move'),
      el('button', { type: 'button', onclick: move('copy') }, 'Copy')));

  let playground = null;
  if (file.fileType === 'image') {
    const tr = el('input', { id: 'tr-input', 'aria-label': 'Transformation, e.g. w-200,h-150', placeholder: 'w-200,h-150' });
    const out = el('div', { class: 'playground' });
    const render = async (event) => {
      event.preventDefault();
      out.replaceChildren();
      const spec = tr.value.trim().replace(/^tr:/, '');
      if (!spec) return;
      try {
        const relative = `tr:${spec}${file.url.slice(session.urlEndpoint.length)}`;
        const src = file.isPrivateFile
          ? (await api('POST', 'api/sign', { path: relative, expireSeconds: 3600 })).url
          : `${session.urlEndpoint}/${relative}`;
        const response = await fetch(src);
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          out.append(el('p', { class: 'error', role: 'alert' }, body.message || `HTTP ${response.status}`));
          return;
        }
        const blob = await response.blob();
        out.append(el('img', { src: URL.createObjectURL(blob), alt: `${file.name} with ${spec}` }), el('p', { class: 'hint' }, src));
      } catch (e) {
        out.append(el('p', { class: 'error', role: 'alert' }, e.message));
      }
    };
    playground = el('section', {}, el('h2', {}, 'Transformations'),
      el('form', { class: 'row', onsubmit: render }, tr, el('button', { type: 'submit' }, 'Preview')), out);
  }

  panel.replaceChildren(
    el('div', { class: 'row' }, el('h2', { tabindex: '-1' }, file.name), el('button', { type: 'button', onclick: closeDetails, 'aria-label': 'Close details' }, 'Close')),
    preview,
    facts,
    exif,
    el('section', {}, el('h2', {}, 'Tags'), tags, tagForm),
    attributes,
    el('section', {}, el('h2', {}, 'Custom metadata'), custom),
    el('section', {}, el('h2', {}, 'Versions'), versionList),
    organise,
    playground,
    el('section', {}, el('h2', {}, 'Share'), el('div', { class: 'row' }, expiry, copy), signedField),
    el('section', {}, remove));
  // Keyboard users land on what they opened.
  panel.querySelector('h2').focus();
}

// ---------------------------------------------------------------- custom metadata fields

async function showFields() {
  let fields;
  try {
    fields = await api('GET', 'api/v1/customMetadataFields');
  } catch (e) {
    say(e.message);
    return;
  }
  view.current = null;
  const panel = $('details');
  panel.hidden = false;
  const list = el('ul', { class: 'fields-list', 'aria-label': 'Custom metadata fields' },
    fields.map((field) => el('li', {},
      el('span', {}, `${field.label} (${field.name}, ${field.schema.type}${
        field.schema.selectOptions ? `: ${field.schema.selectOptions.join(', ')}` : ''})`),
      field.schema.selectOptions ? el('button', { type: 'button', onclick: async () => {
        const answer = prompt(`Options of ${field.name}, comma-separated`, field.schema.selectOptions.join(', '));
        if (!answer) return;
        const selectOptions = answer.split(',').map((o) => o.trim()).filter(Boolean);
        try {
          await api('PATCH', `api/v1/customMetadataFields/${encodeURIComponent(field.id)}`, { schema: { ...field.schema, selectOptions } });
          await showFields();
          say('Options saved.');
        } catch (e) {
          say(e.message);
        }
      } }, 'Edit options') : null,
      el('button', { type: 'button', onclick: async () => {
        const label = prompt(`New label for ${field.name}`, field.label);
        if (!label) return;
        try {
          await api('PATCH', `api/v1/customMetadataFields/${encodeURIComponent(field.id)}`, { label });
          await showFields();
          say('Field renamed.');
        } catch (e) {
          say(e.message);
        }
      } }, 'Relabel'),
      el('button', { type: 'button', onclick: async () => {
        if (!confirm(`Delete the field ${field.name}? Its name stays reserved.`)) return;
        try {
          await api('DELETE', `api/v1/customMetadataFields/${encodeURIComponent(field.id)}`);
          await showFields();
          say('Field deleted.');
        } catch (e) {
          say(e.message);
        }
      } }, 'Delete'))));
  const name = el('input', { id: 'field-name', required: true });
  const label = el('input', { id: 'field-label', required: true });
  const type = el('select', { id: 'field-type' },
    ['Text', 'Textarea', 'Number', 'Date', 'Boolean', 'SingleSelect', 'MultiSelect'].map((t) => el('option', { value: t }, t)));
  const options = el('input', { id: 'field-options', placeholder: 'for selects: a, b, c' });
  const error = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'custom', onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = '';
    const schema = { type: type.value };
    if (type.value.endsWith('Select')) schema.selectOptions = options.value.split(',').map((o) => o.trim()).filter(Boolean);
    try {
      await api('POST', 'api/v1/customMetadataFields', { name: name.value.trim(), label: label.value.trim(), schema });
      await showFields();
      say(`Field ${name.value.trim()} created.`);
    } catch (e) {
      error.textContent = e.message;
    }
  } },
  el('label', {}, 'Name', name), el('label', {}, 'Label', label), el('label', {}, 'Type', type),
  el('label', {}, 'Options', options), el('button', { type: 'submit' }, 'Create field'), error);
  panel.replaceChildren(
    el('div', { class: 'row' }, el('h2', {}, 'Custom metadata fields'), el('button', { type: 'button', onclick: closeDetails }, 'Close')),
    fields.length ? list : el('p', { class: 'hint' }, 'No fields yet.'),
    el('section', {}, el('h2', {}, 'New field'), form));
}

$('fields-button').addEventListener('click', showFields);

// ---------------------------------------------------------------- uploads

function sizeProblem(file) {
  if (!limits) return null;
  const matches = (pattern) => pattern === '*/*' || file.type.startsWith(pattern.replace('*', ''));
  const sizeClass = limits.sizeLimits.find((c) => matches(c.mimeTypes));
  if (!sizeClass || file.size <= sizeClass.maxBytes) return null;
  return `${file.name} is ${formatBytes(file.size)}: this server takes up to ${formatBytes(sizeClass.maxBytes)}.`;
}

async function tokenFor(fields) {
  const answer = await api('POST', 'api/token', { uploadPayload: fields, expire: 600, publicKey: session.publicKey });
  return answer.token;
}

// `subfolder`: where under the current folder the file goes (from a dropped or picked folder).
async function upload(file, subfolder = '') {
  const folder = subfolder ? `${view.folder}${subfolder}`.replace(/\/+$/, '') : view.folder;
  const name = file.name || `pasted-${Date.now()}.png`;
  const bar = el('progress', { max: '100', value: '0', 'aria-label': `Upload of ${name}` });
  const state = el('span', { class: 'state' }, 'waiting');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const row = el('li', {}, el('span', { class: 'name' }, name), bar, el('span', {}, state, ' ', cancel));
  $('uploads').append(row);
  let request = null;
  const fail = (message) => {
    state.textContent = 'failed';
    row.append(el('span', { class: 'failed' }, message));
    cancel.textContent = 'Retry';
    cancel.onclick = () => { row.remove(); upload(file, subfolder); };
  };
  cancel.onclick = () => {
    if (request) request.abort();
    row.remove();
  };
  await limitsLoaded;
  if (!row.isConnected) return; // cancelled while waiting
  const problem = sizeProblem(file);
  if (problem) {
    fail(problem);
    return;
  }
  const fields = { fileName: name, folder, useUniqueFileName: 'false' };
  const finished = () => {
    bar.value = 100;
    state.textContent = 'done';
    cancel.remove();
    say(`${name} uploaded.`);
    if (!view.query && view.folder === folder) reload();
  };
  if (limits && limits.resumable && file.size > RESUMABLE_ABOVE) {
    // Large files go resumable: a cut connection costs a chunk, not the file.
    row.dataset.via = 'resumable';
    tokenFor(fields).then((token) => {
      const job = new FolioTus.ResumableUpload({
        endpoint: `..${limits.resumable.path}`,
        file,
        name,
        token,
        chunkSize: CHUNK_SIZE,
        hooks: {
          progress: (sent, total) => {
            bar.value = Math.round((sent / Math.max(total, 1)) * 100);
            state.textContent = 'sending (resumable)';
          },
          done: (outcome) => {
            if (outcome.ok) finished();
            else fail((outcome.body && outcome.body.message) || `HTTP ${outcome.status}`);
          },
          failed: (message) => fail(message),
          paused: (message) => { state.textContent = 'paused'; say(message); },
        },
      });
      cancel.onclick = () => {
        job.cancel();
        row.remove();
      };
      job.start();
    }).catch((e) => fail(e.message));
    return;
  }
  tokenFor(fields).then((token) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('token', token);
    form.append('file', file, name);
    request = new XMLHttpRequest();
    request.open('POST', '../api/v2/files/upload');
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
      state.textContent = 'sending';
    };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch { body = null; }
      if (request.status >= 200 && request.status < 300) {
        finished();
      } else {
        fail((body && body.message) || `HTTP ${request.status}`);
      }
    };
    request.onerror = () => fail('The upload was cut off (network).');
    request.send(form);
  }).catch((e) => fail(e.message));
}

function uploadAll(files) {
  for (const file of files) upload(file);
}

// The folder a file of a picked folder goes to, under the current one: `trip/day2/b.txt` ->
// `trip/day2`.
function folderOfRelative(relative) {
  const cut = relative.lastIndexOf('/');
  return cut > 0 ? relative.slice(0, cut) : '';
}

$('file-input').addEventListener('change', (event) => {
  uploadAll([...event.target.files]);
  event.target.value = '';
});

$('folder-input').addEventListener('change', (event) => {
  for (const file of event.target.files) upload(file, folderOfRelative(file.webkitRelativePath || ''));
  event.target.value = '';
});

// The files of a dropped folder, with the folder path each goes to.
async function filesOfEntry(entry, prefix) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [{ file, subfolder: prefix }];
  }
  const reader = entry.createReader();
  const children = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    children.push(...batch);
  }
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  return (await Promise.all(children.map((child) => filesOfEntry(child, path)))).flat();
}

const drop = $('drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const entries = [...(event.dataTransfer.items || [])]
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (entries.length && entries.every(Boolean) && entries.some((e) => e.isDirectory)) {
    const found = (await Promise.all(entries.map((e) => filesOfEntry(e, '')))).flat();
    for (const { file, subfolder } of found) upload(file, subfolder);
    return;
  }
  uploadAll([...event.dataTransfer.files]);
});
document.addEventListener('paste', (event) => {
  if (!session || event.target instanceof HTMLInputElement) return;
  const files = [...(event.clipboardData ? event.clipboardData.files : [])];
  if (files.length) uploadAll(files);
});

boot();
