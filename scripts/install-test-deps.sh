#!/usr/bin/env bash
# Installs what the compatibility tests (crates/folio/tests/it/compat.rs) run against Folio:
#   - tests/compat/node/node_modules: the official Node SDK @imagekit/nodejs, jsonwebtoken and
#     tus-js-client, exactly as tests/compat/node/package-lock.json pins them (npm ci);
#   - tests/compat/python/.venv: the official Python SDK imagekitio (with its `webhooks` extra,
#     standardwebhooks) and PyJWT, as pinned in tests/compat/python/requirements.txt.
# and what the browser test (crates/folio/tests/it/browser.rs) drives the demo page with:
#   - Chromium, Debian's `chromium` package (/usr/bin/chromium), when it is not there yet;
#   - tests/e2e/node_modules: playwright-core, and Uppy (@uppy/core, @uppy/tus) with esbuild to
#     bundle it for the page, exactly as tests/e2e/package-lock.json pins them.
# Both stay inside the tree and are git-ignored. Idempotent: a stamp of the inputs (pins and
# interpreter version) is kept next to each install, and nothing runs again while it matches.
# Called by scripts/test.sh; run it by hand before `cargo test` on a new checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "install-test-deps: '$1' is not on PATH (the compatibility tests need Node.js 20+ with npm and Python 3.9+)" >&2
    exit 1
  }
}

# A hash of the files and command outputs that decide an install.
stamp() { { "$@"; } 2>&1 | sha256sum | cut -d' ' -f1; }

node_dir=tests/compat/node
need node
need npm
node_want=$(stamp sh -c "node --version && cat $node_dir/package.json $node_dir/package-lock.json")
if [ "$(cat "$node_dir/node_modules/.install-stamp" 2>/dev/null)" != "$node_want" ]; then
  echo "install-test-deps: npm ci in $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$node_want" >"$node_dir/node_modules/.install-stamp"
fi

py_dir=tests/compat/python
python=${PYTHON:-python3}
need "$python"
py_want=$(stamp sh -c "$python --version && cat $py_dir/requirements.txt")
if [ "$(cat "$py_dir/.venv/.install-stamp" 2>/dev/null)" != "$py_want" ]; then
  echo "install-test-deps: pip install into $py_dir/.venv"
  rm -rf "$py_dir/.venv"
  if "$python" -m venv "$py_dir/.venv" 2>/dev/null; then
    pip=("$py_dir/.venv/bin/python" -m pip)
  else
    # An interpreter without ensurepip (e.g. Debian's python3 without python3-venv): an empty
    # venv, filled by the interpreter's own pip.
    rm -rf "$py_dir/.venv"
    "$python" -m venv --without-pip "$py_dir/.venv"
    pip=("$python" -m pip --python "$py_dir/.venv/bin/python")
  fi
  "${pip[@]}" install --quiet --disable-pip-version-check -r "$py_dir/requirements.txt"
  echo "$py_want" >"$py_dir/.venv/.install-stamp"
fi
e2e_dir=tests/e2e
e2e_want=$(stamp sh -c "node --version && cat $e2e_dir/package.json $e2e_dir/package-lock.json")
if [ "$(cat "$e2e_dir/node_modules/.install-stamp" 2>/dev/null)" != "$e2e_want" ]; then
  echo "install-test-deps: npm ci in $e2e_dir"
  (cd "$e2e_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$e2e_want" >"$e2e_dir/node_modules/.install-stamp"
fi

# The browser itself: Debian's Chromium (playwright-core downloads no browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: 'chromium' is not on PATH; install Debian's chromium package (apt-get install chromium) as root" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "install-test-deps: Node and Python packages for the compatibility tests, playwright-core, Uppy and Chromium for the browser tests are installed"
