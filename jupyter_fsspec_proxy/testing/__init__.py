"""The test harness, shared by tests/ and benchmarks/: real servers as processes on
127.0.0.1, the browsers, hubs and stores the tests drive, and the pytest fixtures of
tests/ (``pytest_plugin``, loaded by tests/conftest.py).

Nothing in the server imports it, and the wheel leaves it out: it needs a checkout (the
npm folders of tests/, docs/deploy/) and the ``test`` extra."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
TESTS = CHECKOUT / "tests"
DOCS = CHECKOUT / "docs"
