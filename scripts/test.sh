#!/usr/bin/env bash
# Install everything the tests need, then run lint, the docs build and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

ruff check .
ruff format --check .
npm run --silent lint:check   # the extension's TypeScript: prettier and eslint
python -m sphinx -W -q -b html docs docs/_build/html
python -m pytest "$@"
