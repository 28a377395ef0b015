"""What the hub path costs: the same service reached through JupyterHub's proxy
(configurable-http-proxy, as browsers and scripts outside do), at the service's own
URL (as kernels do with the documented c.Spawner.environment), and the same proxy
standalone (run mode, its own token), side by side:

- 4 KiB range reads on one keep-alive connection, requests per second;
- ``pd.read_parquet`` of a 64 MiB file (8 float64 columns, 4 row groups), seconds;
- a 256 MiB file read whole with the client (``cat_file``), MB/s.

    python benchmarks/hub.py [--rounds 3] [--count 2000]

The three are measured alternately within each round; the best of the rounds counts.
On a shared machine the rates move with the load; the CPU time that the proxy's
process spends per 4 KiB read (service vs standalone) moves much less.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import datatools
import httpbench as h
import pandas as pd
import psutil
import servers
from fsspec_proxy_client import ProxyFileSystem
from rounds import alternate_best

from jupyter_fsspec_proxy.testing.hub import jupyterhub

SIZE = 64 * h.MiB
LARGE = 256 * h.MiB
ROUTES = ("through the hub's proxy", "service URL", "standalone")


def route(name: str, url: str, token: str) -> tuple[servers.Server, dict[str, str]]:
    """The 4 KiB loop's target and the client's options for one way to the proxy."""
    parts = urlsplit(url)
    server = servers.Server(
        name, parts.port, f"{parts.path}files/Bench/", headers={"Authorization": f"token {token}"}
    )
    return server, {"endpoint_url": url, "token": token}


def parquet_s(options: dict[str, str]) -> float:
    started = time.perf_counter()
    pd.read_parquet(f"proxy://Bench/{datatools.NAME}", storage_options=options)
    return time.perf_counter() - started


def large_mb_s(options: dict[str, str]) -> float:
    fs = ProxyFileSystem(**options, skip_instance_cache=True)
    started = time.perf_counter()
    size = len(fs.cat_file("Bench/large.bin"))
    return size / h.MiB / (time.perf_counter() - started)


def cpu_us_per_read(pid: int, server: servers.Server, count: int) -> float:
    """Microseconds of CPU (user + system) that process ``pid`` spends per 4 KiB read."""
    process = psutil.Process(pid)
    before = sum(process.cpu_times()[:2])
    h.range_loop(server, "big.bin", SIZE, count)
    return (sum(process.cpu_times()[:2]) - before) / count * 1e6


def service_pid() -> int:
    """The hub's service: the ``jupyter fsspec-proxy hub`` that the hub started."""
    [process] = [
        p
        for p in psutil.Process().children(recursive=True)
        if "fsspec-proxy" in " ".join(p.cmdline()) and "hub" in p.cmdline()
    ]
    return process.pid


def measure(rounds: int, count: int) -> dict:
    """The three ways, alternating: 4 KiB reads/s, read_parquet seconds, 256 MiB MB/s,
    and the proxy's CPU per 4 KiB read (service and standalone)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root, config = servers.bench_source(workdir)
        (root / "big.bin").write_bytes(os.urandom(SIZE))
        (root / "large.bin").write_bytes(os.urandom(LARGE))
        datatools.write(root)
        hub_home = workdir / "hub"
        hub_home.mkdir()
        with (
            servers.proxy(config, workdir) as direct,
            jupyterhub(hub_home, config, {"bench": []}, []) as hub,
        ):
            token = hub.token_for("bench")
            standalone = f"http://127.0.0.1:{direct.port}/fsspec-proxy/"
            ways = {
                ROUTES[0]: route(ROUTES[0], hub.proxy_url, token),
                ROUTES[1]: route(ROUTES[1], hub.direct_url, token),
                ROUTES[2]: route(ROUTES[2], standalone, servers.TOKEN),
            }
            targets = [server for server, _ in ways.values()]
            for server, options in ways.values():  # warm up: identity caches, connections
                h.range_loop(server, "big.bin", SIZE, 200)
                parquet_s(options)
            reads = alternate_best(
                rounds, targets, lambda s: h.range_loop(s, "big.bin", SIZE, count)["req_s"]
            )
            frames = alternate_best(
                rounds, targets, lambda s: parquet_s(ways[s.name][1]), better=min
            )
            large = alternate_best(rounds, targets, lambda s: large_mb_s(ways[s.name][1]))
            pids = {ROUTES[1]: service_pid(), ROUTES[2]: direct.pid}
            cpu = alternate_best(
                rounds, targets[1:], lambda s: cpu_us_per_read(pids[s.name], s, count), min
            )
    return {"reads_req_s": reads, "parquet_s": frames, "large_MB_s": large, "cpu_us": cpu}


def describe(result: dict) -> str:
    reads, frames, large, cpu = (
        result[k] for k in ("reads_req_s", "parquet_s", "large_MB_s", "cpu_us")
    )
    base = ROUTES[2]
    lines = [
        "Through JupyterHub; ratios to the standalone proxy (higher is better):",
        f"{'':26}{'4 KiB req/s':>18}{'read_parquet s':>20}{'256 MiB MB/s':>20}",
    ]
    for name in ROUTES:
        lines.append(
            f"{name:26}{reads[name]:>11.0f} ({reads[name] / reads[base]:.2f}x)"
            f"{frames[name]:>13.3f} ({frames[base] / frames[name]:.2f}x)"
            f"{large[name]:>13.0f} ({large[name] / large[base]:.2f}x)"
        )
    lines.append(
        f"the proxy's CPU per 4 KiB read: as the hub's service {cpu[ROUTES[1]]:.0f} us, "
        f"standalone {cpu[base]:.0f} us ({cpu[base] / cpu[ROUTES[1]]:.2f}x)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    print(f"best of {args.rounds} rounds")
    print(describe(measure(args.rounds, args.count)))


if __name__ == "__main__":
    main()
