#!/usr/bin/env bash
# Install everything the tests need, then run lint, the docs build and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test,docs]"
# The client is tested as users get it: the wheel built from lite_client/.
rm -rf dist/client
python -m build --wheel --outdir dist/client lite_client > /dev/null
python -m pip install --quiet --force-reinstall --no-deps dist/client/fsspec_proxy_client-*.whl

ruff check .
ruff format --check .
python -m sphinx -W -q -b html docs docs/_build/html
python -m pytest "$@"
