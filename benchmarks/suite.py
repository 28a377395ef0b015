"""The benchmark suite: this proxy beside the prototype, tornado and nginx, in one run.

    bash benchmarks/run.sh [--rounds 3]      # installs what it needs, then runs this

Starts on 127.0.0.1, on the same files: this project's standalone proxy, the
prototype (``fsspec-proxy==0.1.2``, in its own virtual environment), a plain
tornado server (the baseline) and nginx (the upper reference); and moto's S3
server. Measures at the raw HTTP level and, on CPython, at the client level;
prints tables with ratios to the baseline, checks the targets, and saves
``benchmarks/results/suite.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import browserbench
import clientbench
import datatools
import httpbench as h
import hub as hub_bench
import s3bench
import scaleout
import servers
from httpbench import MiB
from rounds import alternate_best, best_of_rounds, per_key

from jupyter_fsspec_proxy.testing.processes import PeakRSS

HERE = Path(__file__).parent
BIG = 64 * MiB
HUGE = 1024 * MiB
LISTED = 1000
RANGES = 2000
CLIENTS = 16
BATCH = 100
SLOW_CAP = 20.0  # seconds: the prototype sends binary files line by line


def cpu_model() -> str:
    with open("/proc/cpuinfo") as info:
        names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    return names[0] if names else platform.machine()


def make_dataset(root: Path, workdir: Path) -> dict[str, Path]:
    """The files every server serves, and the files uploaded to them."""
    block = os.urandom(8 * MiB)
    (root / "big.bin").write_bytes(block * (BIG // len(block)))
    for n in range(10):
        (root / f"small{n}.bin").write_bytes(os.urandom(MiB))
    (root / "many").mkdir()
    for n in range(LISTED):
        (root / "many" / f"file-{n:04d}.txt").write_bytes(b"x" * 100)
    uploads = {}
    for name, size in (("8MiB", 8 * MiB), ("256MiB", 256 * MiB), ("1GiB", HUGE)):
        uploads[name] = workdir / f"upload-{name}.bin"
        with uploads[name].open("wb") as out:
            for _ in range(size // len(block)):
                out.write(block)
    os.link(uploads["1GiB"], root / "huge.bin")
    return uploads


def raw_http(all_servers: list, uploads: dict, rounds: int) -> dict[str, dict]:
    results: dict[str, dict] = {s.name: {} for s in all_servers}
    fast = [s for s in all_servers if not s.name.startswith("prototype")]
    slow = [s for s in all_servers if s.name.startswith("prototype")]

    print("64 MiB reads ...", flush=True)
    for server in all_servers:
        h.stream_read(server, "small0.bin")  # warm up
    for name, mb_s in alternate_best(
        rounds, fast, lambda s: BIG / MiB / h.stream_read(s, "big.bin")[1]
    ).items():
        results[name]["read_64MiB_MB_s"] = mb_s
    for server in slow:
        received, elapsed = h.stream_read(server, "big.bin", SLOW_CAP)
        results[server.name]["read_64MiB_MB_s"] = received / MiB / elapsed
        results[server.name]["read_64MiB_note"] = f"{received / MiB:.1f} MiB in {elapsed:.0f} s"

    print("4 KiB ranges ...", flush=True)
    loops = alternate_best(
        2,
        all_servers,
        lambda s: h.range_loop(s, "big.bin", BIG, RANGES),
        lambda a, b: max(a, b, key=lambda r: r["req_s"]),
    )
    for name, loop in loops.items():
        results[name].update({f"ranges_1conn_{k}": v for k, v in loop.items()})
    per_client = RANGES // CLIENTS
    many = alternate_best(
        2,
        all_servers,
        lambda s: h.concurrent_ranges(s, "big.bin", BIG, CLIENTS, per_client),
        lambda a, b: max(a, b, key=lambda r: r["req_s"]),
    )
    for name, loop in many.items():
        results[name].update({f"ranges_{CLIENTS}conn_{k}": v for k, v in loop.items()})

    print("100 ranges over 10 files, listings, uploads ...", flush=True)
    spread = h.spread_ranges(BATCH)
    for name, ms in alternate_best(
        rounds, all_servers, lambda s: h.separate_ranges_ms(s, spread), min
    ).items():
        results[name]["separate_100_ranges_ms"] = ms
    for name, ms in alternate_best(
        rounds, all_servers, lambda s: h.listing_ms(s, LISTED), min
    ).items():
        results[name]["list_1000_ms"] = ms
    for label in ("8MiB", "256MiB"):
        count = rounds if label == "8MiB" else 2
        # Each server replaces a file of its own: a server truncating the file another
        # has just written would drop that server's pages before they reach the disk.
        for name, mb_s in alternate_best(
            count,
            all_servers,
            lambda s, source=uploads[label], label=label: h.upload_mb_s(
                s, source, f"received-{label}-{s.port}.bin"
            ),
        ).items():
            results[name][f"upload_{label}_MB_s"] = mb_s

    print("memory while sending and receiving 1 GiB ...", flush=True)
    for server in all_servers:
        cap = SLOW_CAP if server in slow else 600
        with PeakRSS(server.pid) as serving:
            received, _ = h.stream_read(server, "huge.bin", cap)
        with PeakRSS(server.pid) as receiving:
            h.upload_mb_s(server, uploads["1GiB"], f"received-1GiB-{server.port}.bin")
        results[server.name]["rss_serving_1GiB_MiB"] = serving.growth_mib
        results[server.name]["rss_receiving_1GiB_MiB"] = receiving.growth_mib
        if received < HUGE:
            results[server.name]["rss_serving_note"] = f"stopped after {received / MiB:.0f} MiB"
    return results


def client_level(proxy: servers.Server, static: servers.Server, uploads: dict, rounds: int) -> dict:
    sides = {
        "fsspec-proxy-client -> proxy": clientbench.proxy_side(proxy),
        "fsspec HTTPFileSystem -> tornado static": clientbench.http_side(static),
    }

    def figures(side: clientbench.Side) -> dict[str, float]:
        return {
            "read_64MiB_MB_s": clientbench.read_mb_s(side, BIG),
            "ranges_req_s": clientbench.ranges_req_s(side, BIG, RANGES),
            "cat_ranges_100_ms": clientbench.cat_ranges_ms(side, BATCH),
            "cat_file_x100_ms": clientbench.cat_each_ms(side, BATCH),
        }

    results = best_of_rounds(
        rounds,
        {name: (lambda side=side: figures(side)) for name, side in sides.items()},
        per_key(
            {
                "read_64MiB_MB_s": True,
                "ranges_req_s": True,
                "cat_ranges_100_ms": False,
                "cat_file_x100_ms": False,
            }
        ),
    )
    proxied = sides["fsspec-proxy-client -> proxy"]
    results["fsspec-proxy-client -> proxy"]["ls_1000_ms"] = min(
        clientbench.ls_ms(proxied, LISTED) for _ in range(rounds)
    )
    for number, (name, side) in enumerate(sides.items()):
        for label in ("8MiB", "256MiB"):  # a file of each side's own, as in raw_http
            results[name][f"put_{label}_MB_s"] = clientbench.put_mb_s(
                side, uploads[label], f"client-{label}-{number}.bin"
            )
    return results


RAW_COLUMNS = [  # key, heading, True if higher is better (ratios always read "x as good")
    ("read_64MiB_MB_s", "64 MiB MB/s", True),
    ("ranges_1conn_req_s", "4 KiB req/s", True),
    ("ranges_1conn_p50_ms", "p50 ms", False),
    ("ranges_1conn_p99_ms", "p99 ms", False),
    (f"ranges_{CLIENTS}conn_req_s", f"{CLIENTS} conn req/s", True),
    ("separate_100_ranges_ms", "100 ranges ms", False),
    ("list_1000_ms", "ls 1000 ms", False),
    ("upload_8MiB_MB_s", "PUT 8 MiB MB/s", True),
    ("upload_256MiB_MB_s", "PUT 256 MiB MB/s", True),
    ("rss_serving_1GiB_MiB", "RSS GET 1 GiB", None),
    ("rss_receiving_1GiB_MiB", "RSS PUT 1 GiB", None),
]

CLIENT_COLUMNS = [
    ("read_64MiB_MB_s", "64 MiB MB/s", True),
    ("ranges_req_s", "4 KiB reads/s", True),
    ("cat_ranges_100_ms", "cat_ranges 100 ms", False),
    ("cat_file_x100_ms", "100 cat_file ms", False),
    ("ls_1000_ms", "ls 1000 ms", False),
    ("put_8MiB_MB_s", "put 8 MiB MB/s", True),
    ("put_256MiB_MB_s", "put 256 MiB MB/s", True),
]


def ratio(value: float, base: float, higher_is_better: bool) -> float:
    return value / base if higher_is_better else base / value


def table(results: dict[str, dict], columns: list, baseline: str) -> str:
    """A Markdown table; each figure followed by its ratio to the baseline row."""
    head = "| | " + " | ".join(label for _, label, _ in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    base = results[baseline]
    for name, row in results.items():
        cells = []
        for key, _, better in columns:
            if key not in row:
                cells.append("–")
                continue
            cell = f"{row[key]:.3g}" if row[key] < 100 else f"{row[key]:.0f}"
            if better is not None and key in base:
                cell += f" ({ratio(row[key], base[key], better):.2f}×)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(
    raw: dict, s3: dict, browser: dict, tools: dict, hub: dict
) -> list[tuple[str, float, bool]]:
    """Every target: (what, measured, met). Ratios read "as good as the baseline"
    (higher is better); "time" ratios are the proxy's time over the baseline's."""
    proxy, base = raw["jupyter-fsspec-proxy"], raw["tornado static"]
    prototype = raw["prototype 0.1.2"]
    worker, main_thread = browser["Pyodide worker"], browser["Pyodide main"]
    reads = hub["reads_req_s"]
    at_least = [
        ("64 MiB read vs tornado", proxy["read_64MiB_MB_s"] / base["read_64MiB_MB_s"], 0.8),
        (
            "4 KiB ranges, 1 connection, vs tornado",
            proxy["ranges_1conn_req_s"] / base["ranges_1conn_req_s"],
            0.9,
        ),
        (
            f"4 KiB ranges, {CLIENTS} connections, vs tornado",
            proxy[f"ranges_{CLIENTS}conn_req_s"] / base[f"ranges_{CLIENTS}conn_req_s"],
            0.8,
        ),
        (
            "4 KiB ranges vs prototype",
            proxy["ranges_1conn_req_s"] / prototype["ranges_1conn_req_s"],
            2,
        ),
        (
            "cat_ranges 100 vs 100 requests",
            proxy["separate_100_ranges_ms"] / proxy["batched_100_ranges_ms"],
            10,
        ),
        ("ls 1000 vs tornado JSON listing", base["list_1000_ms"] / proxy["list_1000_ms"], 0.8),
        ("PUT 8 MiB vs tornado", proxy["upload_8MiB_MB_s"] / base["upload_8MiB_MB_s"], 0.9),
        ("PUT 256 MiB vs tornado", proxy["upload_256MiB_MB_s"] / base["upload_256MiB_MB_s"], 0.9),
        (
            "Pyodide main thread, 64 MiB vs fetch",
            main_thread["client_whole"] / main_thread["fetch_whole"],
            0.5,
        ),
        ("Pyodide worker, 64 MiB vs fetch", worker["client_whole"] / worker["fetch_whole"], 0.8),
        ("read_parquet 64 MiB whole vs local disk", tools["whole_ratio"], 0.33),
        ("read_parquet one column vs local disk", tools["column_ratio"], 0.35),
        (
            "4 KiB through the hub, kernels (service URL) vs standalone",
            reads[hub_bench.ROUTES[1]] / reads[hub_bench.ROUTES[2]],
            0.8,
        ),
    ]
    at_most = [
        ("RSS growth serving 1 GiB, MiB", proxy["rss_serving_1GiB_MiB"], 64),
        ("RSS growth receiving 1 GiB, MiB", proxy["rss_receiving_1GiB_MiB"], 64),
        ("S3 64 MiB read, time vs s3fs direct", s3["read_time_ratio"], 1.25),
        ("S3 200 x 4 KiB, time vs s3fs direct", s3["ranges_time_ratio"], 1.25),
        ("S3 cat_ranges 100, time vs s3fs direct", s3["cat_ranges_time_ratio"], 1.25),
        ("S3 256 MiB upload, time vs s3fs direct", s3["upload_time_ratio"], 1.25),
        ("S3 256 MiB upload, RSS growth, MiB", s3["upload_rss_MiB"], 128),
        ("S3 256 MiB upload, staged on disk, MiB", s3["upload_disk_MiB"], 64),
        ("S3 read_parquet whole, time vs s3fs direct", 1 / tools["s3_whole_ratio"], 1.1),
        ("S3 read_parquet one column, time vs s3fs direct", 1 / tools["s3_column_ratio"], 1.1),
        ("pyarrow dataset with a filter, time vs local", 1 / tools["dataset_filter_ratio"], 3),
        ("dask read_parquet, time vs local", 1 / tools["dask_ratio"], 3),
        ("xarray open_zarr().load(), time vs local", 1 / tools["zarr_ratio"], 3),
    ]
    return [(f"{label} (>= {goal})", value, value >= goal) for label, value, goal in at_least] + [
        (f"{label} (<= {goal})", value, value <= goal) for label, value, goal in at_most
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-scaleout", action="store_true")
    args = parser.parse_args()
    venv = servers.prototype_venv(HERE / ".venv-prototype")
    if not servers.have_nginx():
        raise SystemExit("nginx is missing: run benchmarks/run.sh, which installs it")

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        root = workdir / "data"
        root.mkdir()
        print("writing the data set ...", flush=True)
        uploads = make_dataset(root, workdir)
        datatools.write_zarr(root)
        s3_server = stack.enter_context(s3bench.moto(workdir))
        s3bench.fill(s3_server, (root / "big.bin").read_bytes(), datatools.write(root))
        config = s3bench.config_with_s3(workdir, root, s3_server)

        static = stack.enter_context(servers.tornado_static(root))
        proxy = stack.enter_context(servers.proxy(config, workdir))
        prototype = stack.enter_context(servers.prototype(venv, root, workdir))
        nginx = stack.enter_context(servers.nginx_static(root, workdir))
        raw = raw_http([static, proxy, prototype, nginx], uploads, args.rounds)
        h.batched_ranges_ms(proxy, h.spread_ranges(BATCH))  # warm up, as for the reads
        batched = alternate_best(
            args.rounds, [proxy], lambda s: h.batched_ranges_ms(s, h.spread_ranges(BATCH)), min
        )
        raw[proxy.name]["batched_100_ranges_ms"] = batched[proxy.name]

        print("client level ...", flush=True)
        client = client_level(proxy, static, uploads, args.rounds)
        print("data tools ...", flush=True)
        tools = datatools.measure(proxy, root, args.rounds)
        s3_options = s3bench.storage_options(s3_server)
        tools |= datatools.measure_s3(proxy, s3_options, s3bench.BUCKET, args.rounds)
        print("S3 through the proxy and direct ...", flush=True)
        proxied = clientbench.Side(clientbench.proxy_side(proxy).fs, "S3/")
        s3 = s3bench.compare(proxied, s3bench.direct_side(s3_server), BIG, args.rounds, 200)
        s3 |= s3bench.upload(proxy, s3bench.direct_side(s3_server), uploads["256MiB"], 2)
        stack.close()
        print("the client in the browser ...", flush=True)
        browser = browserbench.measure()
        print("through JupyterHub ...", flush=True)
        hub = hub_bench.measure(args.rounds, RANGES)
        scale = None if args.skip_scaleout else scaleout.measure(config, workdir, args.rounds)

    report = {
        "machine": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "minutes": round((time.monotonic() - started) / 60, 1),
        },
        "raw_http": raw,
        "client": client,
        "s3": s3,
        "data_tools": tools,
        "browser": browser,
        "hub": hub,
        "scaleout": scale,
    }
    print("\nRaw HTTP (ratio to tornado static; > 1 is better than the baseline):\n")
    print(table(raw, RAW_COLUMNS, "tornado static"))
    for name, row in raw.items():
        for key in ("read_64MiB_note", "rss_serving_note"):
            if key in row:
                print(f"  {name}: {key.split('_note')[0]}: {row[key]}")
        if row.get("ranges_1conn_exact_ranges", RANGES) != RANGES:
            print(f"  {name}: {row['ranges_1conn_exact_ranges']} of {RANGES} ranges had 4096 bytes")
    proxy_row = raw["jupyter-fsspec-proxy"]
    print(
        f"\n100 × 4 KiB over 10 files: one api/ranges {proxy_row['batched_100_ranges_ms']:.1f} ms, "
        f"100 requests {proxy_row['separate_100_ranges_ms']:.1f} ms"
    )
    print("\nClient level, CPython (ratio to fsspec's HTTPFileSystem on tornado):\n")
    print(table(client, CLIENT_COLUMNS, "fsspec HTTPFileSystem -> tornado static"))
    print("\n" + datatools.describe(tools))
    print("\n" + browserbench.describe(browser))
    print("\n" + hub_bench.describe(hub))
    print(
        f"\nS3 on moto (proxy, direct): 64 MiB read MB/s {s3['read_MB_s']}, "
        f"200 × 4 KiB seconds {s3['ranges_200_s']}, cat_ranges 100 × 4 KiB seconds "
        f"{s3['cat_ranges_100_s']}, 256 MiB upload MB/s {s3['upload_MB_s']}"
    )
    if scale:
        print("\n" + scaleout.describe(scale))
    print("\nTargets:")
    for label, value, ok in targets(raw, s3, browser, tools, hub):
        print(f"  {'PASS' if ok else 'MISS'}  {label}: {value:.2f}")
    servers.save("suite", report)


if __name__ == "__main__":
    main()
