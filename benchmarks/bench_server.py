"""Server benchmark: the proxy beside a tornado StaticFileHandler on the same files.

    python benchmarks/bench_server.py [--rounds 5]

Both servers run as separate processes on 127.0.0.1 and are measured in
alternating rounds by the same client. Prints a table with ratios to the
baseline and writes benchmarks/results/server.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

HERE = Path(__file__).parent
MiB = 2**20
BIG = 64 * MiB
RANGE = 4096
RANGE_REQUESTS = 2000
TOKEN = "benchmark-token"
AUTH = {"Authorization": f"token {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(command: list[str], port: int, env: dict | None = None) -> Iterator[None]:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> bytes:
    conn.request("GET", path, headers={**AUTH, **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    assert response.status in (200, 206), (path, response.status, body[:200])
    return body


def whole_file_mb_s(port: int, prefix: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    start = time.perf_counter()
    assert len(get(conn, f"{prefix}big.bin")) == BIG
    return BIG / MiB / (time.perf_counter() - start)


def range_loop(port: int, prefix: str) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rng = random.Random(42)
    latencies = []
    for _ in range(RANGE_REQUESTS):
        offset = rng.randrange(0, BIG - RANGE)
        headers = {"Range": f"bytes={offset}-{offset + RANGE - 1}"}
        start = time.perf_counter()
        assert len(get(conn, f"{prefix}big.bin", headers)) == RANGE
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    return {
        "req_s": len(latencies) / sum(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * len(latencies))],
    }


def batched_vs_separate(port: int) -> dict[str, float]:
    """100 ranges of 4 KiB over 10 files: one api/ranges call against 100 GETs."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rng = random.Random(7)
    items = [
        {"path": f"Bench/small{n % 10}.bin", "start": s, "end": s + RANGE}
        for n, s in enumerate(rng.randrange(0, MiB - RANGE) for _ in range(100))
    ]
    start = time.perf_counter()
    for item in items:
        headers = {"Range": f"bytes={item['start']}-{item['end'] - 1}"}
        get(conn, f"/fsspec-proxy/files/{item['path']}", headers)
    separate = time.perf_counter() - start
    start = time.perf_counter()
    body = json.dumps({"ranges": items})
    conn.request("POST", "/fsspec-proxy/api/ranges", body=body, headers=AUTH)
    body = conn.getresponse().read()
    batched = time.perf_counter() - start
    assert len(body) > 100 * RANGE
    return {"separate_ms": 1000 * separate, "batched_ms": 1000 * batched}


def best(rounds: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        (root / "big.bin").write_bytes(os.urandom(BIG))
        for n in range(10):
            (root / f"small{n}.bin").write_bytes(os.urandom(MiB))
        config = Path(tmp) / "proxy.yaml"
        config.write_text(yaml.safe_dump({"sources": [{"name": "Bench", "path": str(root)}]}))

        proxy_port, static_port = free_port(), free_port()
        env = {**os.environ, "FSSPEC_PROXY_CONFIG": str(config), "JUPYTER_RUNTIME_DIR": tmp}
        proxy_cmd = [
            *(sys.executable, "-m", "jupyter_fsspec_proxy", "run", f"--port={proxy_port}"),
            *(f"--IdentityProvider.token={TOKEN}", "--ServerApp.log_level=WARN"),
        ]
        static_cmd = [sys.executable, str(HERE / "static_server.py"), str(root), str(static_port)]
        targets = {
            "tornado static": (static_port, "/"),
            "jupyter-fsspec-proxy": (proxy_port, "/fsspec-proxy/files/Bench/"),
        }
        results: dict[str, dict[str, float]] = {name: {} for name in targets}
        with serve(proxy_cmd, proxy_port, env), serve(static_cmd, static_port):
            for port, prefix in targets.values():  # warm up
                whole_file_mb_s(port, prefix)
            for _ in range(args.rounds):  # alternate, so drift hits both alike
                for name, (port, prefix) in targets.items():
                    mb_s = whole_file_mb_s(port, prefix)
                    results[name]["read_64MiB_MB_s"] = max(
                        mb_s, results[name].get("read_64MiB_MB_s", 0)
                    )
            for _ in range(2):
                for name, (port, prefix) in targets.items():
                    loop = range_loop(port, prefix)
                    if loop["req_s"] > results[name].get("range_4KiB_req_s", 0):
                        results[name].update({f"range_4KiB_{k}": v for k, v in loop.items()})
            batch = min(
                (batched_vs_separate(proxy_port) for _ in range(args.rounds)),
                key=lambda r: r["batched_ms"],
            )

    base = results["tornado static"]
    print(
        f"{'server':<22} {'64 MiB GET MB/s':>16} {'ratio':>6} {'4 KiB req/s':>12} "
        f"{'ratio':>6} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for name, row in results.items():
        print(
            f"{name:<22} {row['read_64MiB_MB_s']:>16.0f} "
            f"{row['read_64MiB_MB_s'] / base['read_64MiB_MB_s']:>6.2f} "
            f"{row['range_4KiB_req_s']:>12.0f} "
            f"{row['range_4KiB_req_s'] / base['range_4KiB_req_s']:>6.2f} "
            f"{row['range_4KiB_p50_ms']:>7.2f} {row['range_4KiB_p99_ms']:>7.2f}"
        )
    speedup = batch["separate_ms"] / batch["batched_ms"]
    print(
        f"100 x 4 KiB over 10 files: 100 GETs {batch['separate_ms']:.1f} ms, "
        f"one api/ranges {batch['batched_ms']:.1f} ms ({speedup:.1f}x)"
    )
    out = HERE / "results" / "server.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"servers": results, "batched_ranges": batch}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
