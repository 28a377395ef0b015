"""Scale-out: nginx (the documented config) in front of one and of two proxy replicas."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpbench as h
import servers
from rounds import alternate_best

from jupyter_fsspec_proxy.testing.balancer import balancer, served_by

CLIENTS = 16
PER_CLIENT = 250
BIG = 64 * h.MiB


def front(name: str, port: int) -> servers.Server:
    auth = {"Authorization": f"token {servers.TOKEN}"}
    return servers.Server(name, port, "/fsspec-proxy/files/Bench/", headers=auth)


def measure(config: Path, workdir: Path, rounds: int) -> dict:
    """Aggregate 4 KiB range reads/s from 16 connections, through nginx, 1 vs 2 replicas."""
    print("scale-out ...", flush=True)
    with ExitStack() as stack:
        replicas = [stack.enter_context(servers.proxy(config, workdir)) for _ in range(2)]
        ports = [replica.port for replica in replicas]
        one, two = servers.free_port(), servers.free_port()
        stack.enter_context(balancer(one, ports[:1], workdir))
        log = stack.enter_context(balancer(two, ports, workdir))
        targets = [front("nginx -> 1 replica", one), front("nginx -> 2 replicas", two)]
        best = alternate_best(
            rounds,
            targets,
            lambda s: h.concurrent_ranges(s, "big.bin", BIG, CLIENTS, PER_CLIENT)["req_s"],
        )
        spread = served_by(log)
    return {
        "req_s": best,
        "speedup": best[targets[1].name] / best[targets[0].name],
        "requests_per_replica": {
            f"replica {n + 1}": spread[f"127.0.0.1:{p}"] for n, p in enumerate(ports)
        },
    }


def describe(result: dict) -> str:
    rates = ", ".join(f"{name} {rate:.0f} req/s" for name, rate in result["req_s"].items())
    return (
        f"Scale-out, {CLIENTS} connections of 4 KiB ranges: {rates} "
        f"({result['speedup']:.2f}×); requests per replica {result['requests_per_replica']}"
    )
