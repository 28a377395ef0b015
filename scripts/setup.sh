#!/usr/bin/env bash
# Install everything the tests and benchmarks need: Debian packages, npm packages,
# the project with its test and docs extras, the client wheel, the browser wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests (Playwright drives it; it never
# downloads one), Debian's nginx for the scale-out test and the HTTP store,
# Debian's OpenSSH server for the SFTP store, Node.js and npm for the
# JupyterLab extension, and the npm packages that the pages load from this
# machine and the Azure Blob emulator (Azurite).
missing=()
command -v chromium > /dev/null || missing+=(chromium)
command -v nginx > /dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v npm > /dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" > /dev/null
fi
npm ci --prefix tests/browser --no-audit --no-fund --silent
npm ci --prefix tests/emulators --no-audit --no-fund --silent
# The JupyterLab extension's build and lint tools (package-lock.json); the
# install below builds the extension with them.
npm ci --no-audit --no-fund --silent

python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test,docs]"
# The client is tested as users get it: the wheel built from lite_client/.
rm -rf dist/client
python -m build --wheel --outdir dist/client lite_client > /dev/null
python -m pip install --quiet --force-reinstall --no-deps dist/client/fsspec_proxy_client-*.whl
# Pyodide loads fsspec by URL: the same pure-Python wheel as the server's.
# What pages and kernels load offline: micropip (PyScript's and the kernel's
# installer) and the JupyterLite kernel's IPython, as the Pyodide lock pins
# them, and comm, which the kernel imports but the lock lacks.
rm -rf dist/wheels
python -m pip download --quiet --no-deps --only-binary=:all: -d dist/wheels \
  "fsspec==$(python -c 'import fsspec; print(fsspec.__version__)')"
python -m pip download --quiet --no-deps --only-binary=:all: -d dist/wheels \
  $(python tests/browser/locked.py micropip packaging ipython jedi parso) comm

