"""The service under load, next to what the database alone can do.

Starts MySQL (as the integration suite finds or starts it), measures the
yardsticks straight through PyMySQL, starts the service under gunicorn with the
container's configuration, drives it with wrk, and prints one table. Every
load goes to 127.0.0.1 and stops after --duration seconds.

    nox -s bench                       # or: python bench/run.py --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests

from tests.support.live_server import LiveServer
from tests.support.load import concurrent_incs
from tests.support.mysql import MySQLServer, choose_provider

LUA = ROOT / "bench" / "report.lua"


@dataclass
class Result:
    name: str
    concurrency: int
    rate: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    requests: int = 0
    cpu: dict[str, float] | None = None  # CPU seconds used during the run, by process group


def yardstick(
    server: MySQLServer, database: str, sql: str, concurrency: int, seconds: float
) -> float:
    """Statements per second over `concurrency` autocommit connections, one thread each."""
    counts = [0] * concurrency
    stop = time.monotonic() + seconds
    start = threading.Barrier(concurrency + 1)

    def run(slot: int) -> None:
        conn = server.connect(database=database)
        try:
            with conn.cursor() as cursor:
                start.wait()
                while time.monotonic() < stop:
                    cursor.execute(sql)
                    cursor.fetchall()
                    counts[slot] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def pids_of(*names: str) -> list[int]:
    found = subprocess.run(["pgrep", "-x", "|".join(names)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def server_pids(live: LiveServer) -> list[int]:
    workers = subprocess.run(["pgrep", "-P", str(live.pid)], capture_output=True, text=True)
    return [live.pid, *(int(p) for p in workers.stdout.split())]


def wrk(url: str, concurrency: int, seconds: float, body: str = "") -> Result:
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(concurrency, 2)}",
            f"-c{concurrency}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            url,
        ],
        env={**os.environ, "BENCH_BODY": body},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        "",
        concurrency,
        data["requests"] / (data["duration_us"] / 1e6),
        data["p50_us"] / 1000,
        data["p95_us"] / 1000,
        data["p99_us"] / 1000,
        errors,
        requests=data["requests"],
    )


def measured(live: LiveServer, run: Callable[[], Result]) -> Result:
    """`run`, with the CPU time each side used while it ran."""
    groups = {"app": server_pids(live), "db": pids_of("mariadbd", "mysqld")}
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    load_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run()
    load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu = {name: cpu_seconds(pids) - before[name] for name, pids in groups.items()}
    result.cpu["wrk"] = (load_after.ru_utime + load_after.ru_stime) - (
        load_before.ru_utime + load_before.ru_stime
    )
    return result


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")

    provider = choose_provider(os.environ)
    server = provider.start()
    print(
        f"mysql: {provider.name} ({server.description}), {server.execute('SELECT VERSION()')[0][0]}"
    )
    rows: list[Result] = []
    try:
        with server.scratch_database() as name:
            env = {
                "DATABASE_URL": server.url(name),
                "AUTO_MIGRATE": "true",
                "GUNICORN_LOG_LEVEL": "warning",
                "TOKEN_SECRET": os.urandom(32).hex(),
            }
            with LiveServer(env, workers=args.workers) as live:
                count_url = f"{live.url}/api/count"
                concurrent_incs(live.url, total=1, clients=1)  # the counter row exists

                yardsticks: dict[tuple[str, int], float] = {}
                for c in levels:
                    yardsticks[("select", c)] = yardstick(
                        server, name, "SELECT count FROM Counters WHERE id = 1", c, args.duration
                    )
                    yardsticks[("update", c)] = yardstick(
                        server,
                        name,
                        "UPDATE Counters SET count = count + 1 WHERE id = 1",
                        c,
                        args.duration,
                    )
                for c in levels:
                    get = measured(live, lambda c=c: wrk(count_url, c, args.duration))
                    get.name = "GET /api/count"
                    inc = measured(
                        live,
                        lambda c=c: wrk(count_url, c, args.duration, body='{"action": "inc"}'),
                    )
                    inc.name = "POST inc"
                    rows += [get, inc]

                # wrk stops with requests still queued in the server: let them land
                # before counting, so that they are not mistaken for lost updates.
                time.sleep(2)
                start = requests.get(count_url, timeout=5).json()["data"]
                values = concurrent_incs(live.url, total=2000, clients=32)
                final = requests.get(count_url, timeout=5).json()["data"]
    finally:
        provider.stop()

    print()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"server: gunicorn, gunicorn.conf.py, {args.workers} workers; "
        f"load: wrk, {args.duration:.0f} s each"
    )
    print()
    header = (
        f"{'measurement':<16}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'errors':>8}{'of yardstick':>15}"
    )
    print(header)
    print("-" * len(header))
    for c in levels:
        for kind, label in (("select", "SELECT (raw)"), ("update", "UPDATE (raw)")):
            print(f"{label:<16}{c:>5}{yardsticks[(kind, c)]:>10,.0f}")
    for row in rows:
        kind = "select" if row.name.startswith("GET") else "update"
        ratio = row.rate / yardsticks[(kind, row.concurrency)]
        print(
            f"{row.name:<16}{row.concurrency:>5}{row.rate:>10,.0f}{fmt(row.p50_ms):>9}"
            f"{fmt(row.p95_ms):>9}{fmt(row.p99_ms):>9}{row.errors:>8}{ratio:>14.0%}"
        )
    print()
    print("CPU per request (ms), by process: the machine's 2 cores are shared by all three")
    print(
        f"{'measurement':<16}{'conc':>5}{'app':>8}{'db':>8}{'wrk':>8}{'total':>8}{'cores busy':>12}"
    )
    for row in rows:
        assert row.cpu is not None
        per = {k: 1000 * v / max(row.requests, 1) for k, v in row.cpu.items()}
        busy = sum(row.cpu.values()) / args.duration
        print(
            f"{row.name:<16}{row.concurrency:>5}{per['app']:>8.3f}{per['db']:>8.3f}"
            f"{per['wrk']:>8.3f}{sum(per.values()):>8.3f}{busy:>12.2f}"
        )
    print()
    lost = start + 2000 - final
    exact = sorted(values) == list(range(start + 1, start + 2001))
    print(
        f"lost updates: 2000 incs at concurrency 32 from {start} -> final count {final}, "
        f"{len(set(values))} distinct values returned, {lost} lost, "
        f"values exactly {start + 1}..{start + 2000}: {'yes' if exact else 'NO'}"
    )
    return 0 if lost == 0 and exact else 1


if __name__ == "__main__":
    sys.exit(main())
