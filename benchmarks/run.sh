#!/usr/bin/env bash
# The benchmark suite, on a fresh machine: nginx from Debian, the project with
# its test extras (s3fs, moto, the client), then the suite. Arguments go to
# benchmarks/suite.py (--rounds N, --skip-scaleout).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx > /dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx > /dev/null
fi
python -m pip install --quiet -e ".[test]"
python -m pip install --quiet ./lite_client
exec python benchmarks/suite.py "$@"
