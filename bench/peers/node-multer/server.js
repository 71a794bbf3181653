'use strict';
// Benchmark peer: POST /api/v2/files/upload with the semantics Folio's benchmark exercises,
// written the usual Node way (express + multer disk storage + jsonwebtoken), without tuning.
//
//   PORT=18470 PRIVATE_KEY=... PUBLIC_KEY=... DATA_DIR=/tmp/x node server.js
//
// Auth: HTTP Basic with the private key as user name, or a V2 upload token in the form field
// `token`: HS256, header kid = the public key, exp - iat at most 3600 s, single use, and the
// payload (reserved claims aside) equal to the form fields other than file and token, both ways.
// The file goes to DATA_DIR/incoming (multer), then is renamed to DATA_DIR/files/<folder>/<name>.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const express = require('express');
const multer = require('multer');
const jwt = require('jsonwebtoken');

const port = Number(process.env.PORT || 18470);
const privateKey = process.env.PRIVATE_KEY;
const publicKey = process.env.PUBLIC_KEY;
if (!privateKey || !publicKey) {
  console.error('set PRIVATE_KEY and PUBLIC_KEY');
  process.exit(2);
}
const dataDir = path.resolve(process.env.DATA_DIR || 'data');
const incoming = path.join(dataDir, 'incoming');
const stored = path.join(dataDir, 'files');
fs.mkdirSync(incoming, { recursive: true });
fs.mkdirSync(stored, { recursive: true });

// A KeyObject made once: handing jsonwebtoken the key as a plain string makes it try to parse
// the string as a PEM key on every call, which a careful developer would avoid.
const hmacKey = crypto.createSecretKey(Buffer.from(privateKey, 'utf8'));
const reserved = new Set(['iat', 'exp', 'nbf', 'jti', 'iss', 'sub', 'aud']);
const burnt = new Map(); // token -> exp, swept once a minute

setInterval(() => {
  const now = Date.now() / 1000;
  for (const [token, exp] of burnt) if (exp < now) burnt.delete(token);
}, 60000).unref();

function sameText(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function basicAuth(header) {
  if (!header || !header.toLowerCase().startsWith('basic ')) return null;
  const user = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
  return sameText(user, privateKey);
}

// null if the token allows an upload of exactly these fields, else the reason it does not.
function tokenProblem(token, fields) {
  let decoded;
  try {
    decoded = jwt.verify(token, hmacKey, { algorithms: ['HS256'], complete: true });
  } catch (err) {
    return `invalid token: ${err.message}`;
  }
  const { header, payload } = decoded;
  if (header.kid !== publicKey) return 'unknown kid';
  if (!Number.isInteger(payload.iat) || !Number.isInteger(payload.exp)) return 'iat and exp must be integers';
  if (payload.exp - payload.iat > 3600) return 'token lifetime over one hour';
  for (const [name, value] of Object.entries(fields)) {
    if (name !== 'token' && payload[name] !== value) return `field ${name} is not in the token`;
  }
  for (const name of Object.keys(payload)) {
    if (!reserved.has(name) && !(name in fields)) return `token parameter ${name} is missing`;
  }
  if (burnt.has(token)) return 'token already used';
  burnt.set(token, payload.exp);
  return null;
}

const upload = multer({
  storage: multer.diskStorage({
    destination: incoming,
    filename: (_req, _file, done) => done(null, crypto.randomUUID()),
  }),
  limits: { fileSize: 2 ** 31, files: 1, fields: 100 },
});

function reject(res, status, message, file) {
  if (file) fs.unlink(file.path, () => {});
  res.status(status).json({ message });
}

const app = express();
app.disable('x-powered-by');

app.post('/api/v2/files/upload', upload.single('file'), async (req, res, next) => {
  const fields = req.body || {};
  const file = req.file;
  try {
    const basic = basicAuth(req.get('authorization'));
    if (basic === false) return reject(res, 401, 'Your account cannot be authenticated.', file);
    if (basic === null) {
      if (typeof fields.token !== 'string') return reject(res, 400, 'Missing token parameter.', file);
      const problem = tokenProblem(fields.token, fields);
      if (problem) return reject(res, 400, problem, file);
    }
    if (!file) return reject(res, 400, 'Missing file parameter.', file);
    const name = fields.fileName;
    if (typeof name !== 'string' || !name || name.includes('/') || name === '.' || name === '..') {
      return reject(res, 400, 'Invalid fileName parameter.', file);
    }
    const folder = path.posix.normalize(`/${fields.folder || ''}/`);
    const finalName = fields.useUniqueFileName === 'false'
      ? name
      : `${path.parse(name).name}_${crypto.randomBytes(4).toString('hex')}${path.extname(name)}`;
    const dir = path.join(stored, folder);
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.rename(file.path, path.join(dir, finalName));
    const fileId = crypto.randomBytes(12).toString('hex');
    res.json({
      fileId,
      name: finalName,
      size: file.size,
      filePath: folder + finalName,
      url: `http://127.0.0.1:${port}/files${folder}${encodeURIComponent(finalName)}`,
      versionInfo: { id: fileId, name: 'Version 1' },
      fileType: 'non-image',
    });
  } catch (err) {
    next(err);
  }
});

app.use((err, req, res, _next) => {
  if (req.file) fs.unlink(req.file.path, () => {});
  const status = err instanceof multer.MulterError ? 400 : 500;
  res.status(status).json({ message: err.message });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`node-multer peer on http://127.0.0.1:${port}, data in ${dataDir}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
