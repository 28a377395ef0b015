#!/usr/bin/env bash
# The benchmark suite, on a fresh machine: what the tests install (nginx and
# Chromium from Debian, Pyodide from npm, the project, the client wheel), then
# the suite, then every store against its emulator (docs/performance.md, "Stores").
# Arguments go to benchmarks/suite.py (--rounds N, --skip-scaleout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python benchmarks/suite.py "$@"
python benchmarks/storebench.py
