"""The service under load, next to the driver floor, with its database round trips.

Starts MySQL (as the integration suite finds or starts it) and the fake WeChat,
then serves two apps under gunicorn with the container's configuration
(gunicorn.conf.py, whatever worker class it names): the service, and the driver
floor (bench/floor.py: the same routes, each one raw PyMySQL round trip from a
small pool). wrk drives each endpoint on both in turn; the table gives
requests/s, latency, errors, the CPU the server's processes spent per request
and its ratio to the floor's for the same request, and the statements each
request sent to MySQL (the server's own `Questions` counter, read before and
after a fixed number of requests). Then: lost increments under load, and how
long gunicorn takes to its first 200. Every load goes to 127.0.0.1.

The targets (issue text in bench/RESULTS.md): CPU per request at most 1.4x the
floor's for GET /api/count and 1.5x for inc and the signed-in profile read; p99
under 50 ms for reads at concurrency 32; no lost increment; the round trips per
request. The run ends non-zero when any target is missed.

    nox -s bench                       # about 3 minutes; prints its estimate first
    nox -s bench -- --quick            # under a minute: shorter runs, one round
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests

from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import LiveServer
from tests.support.load import concurrent_incs
from tests.support.mysql import ContainerServer, LocalBinaryServer, MySQLServer, choose_provider

LUA = ROOT / "bench" / "report.lua"
WRK_THREADS = 2
FLOOR_COMMAND = [sys.executable, "-m", "gunicorn", "bench.floor:create_app()"]


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    body: str = ""
    signed_in: bool = False
    login: bool = False
    floor: bool = True  # bench/floor.py serves it: measured against it
    cpu_target: float | None = None  # at most this many times the floor's CPU per request
    trips_target: int | None = None  # at most this many statements per request

    def request(self, session: requests.Session, base: str, auth: str, code: str) -> int:
        headers = {"Authorization": auth} if self.signed_in else {}
        if self.login:
            payload: str | None = json.dumps({"code": code})
        else:
            payload = self.body or None
        if payload is not None:
            headers["Content-Type"] = "application/json"
        response = session.request(
            self.method, base + self.path, data=payload, headers=headers, timeout=10
        )
        return response.status_code


ENDPOINTS = [
    Endpoint("GET /api/count", "GET", "/api/count", cpu_target=1.4, trips_target=1),
    Endpoint(
        "POST /api/count inc",
        "POST",
        "/api/count",
        '{"action": "inc"}',
        cpu_target=1.5,
        trips_target=1,
    ),
    Endpoint(
        "GET /api/user/profile",
        "GET",
        "/api/user/profile",
        signed_in=True,
        cpu_target=1.5,
        trips_target=1,
    ),
    Endpoint(
        "PATCH /api/user/profile",
        "PATCH",
        "/api/user/profile",
        '{"nickname": "bench"}',
        signed_in=True,
        trips_target=2,
    ),
    Endpoint("POST /api/login", "POST", "/api/login", login=True, floor=False, trips_target=6),
]


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
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds during the run, by side
    round_trips: float | None = None

    def cpu_ms(self, side: str = "app") -> float:
        return 1000 * self.cpu.get(side, 0.0) / max(self.requests, 1)


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


def wrk(
    url: str, concurrency: int, seconds: float, endpoint: Endpoint, auth: str, codes: Path | None
) -> Result:
    threads = min(concurrency, WRK_THREADS)
    env = {
        **os.environ,
        "BENCH_METHOD": endpoint.method,
        "BENCH_BODY": endpoint.body,
        "BENCH_AUTH": auth if endpoint.signed_in else "",
        "BENCH_CODES": str(codes) if endpoint.login and codes else "",
        "BENCH_THREADS": str(threads),
    }
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            url + endpoint.path,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        endpoint.name,
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


class QuestionCounter:
    """Statements the server received, from its `Questions` status, on one connection of ours.

    Reading the counter is itself a statement; `overhead` (measured with
    nothing in between) is subtracted. The server must have no other clients
    while it counts: the throwaway mariadbd the harness starts has none.
    """

    def __init__(self, server: MySQLServer, database: str) -> None:
        self._conn = server.connect(database=database)
        first = self.read()
        self.overhead = self.read() - first

    def read(self) -> int:
        with self._conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
            return int(cursor.fetchone()[1])

    def per_request(self, send: Callable[[], int], requests_: int) -> float:
        before = self.read()
        for _ in range(requests_):
            status = send()
            if status != 200:
                raise SystemExit(f"bench: round-trip count got HTTP {status}")
        return (self.read() - before - self.overhead) / requests_

    def close(self) -> None:
        self._conn.close()


def mint_codes(wechat: FakeWeChat, count: int) -> Iterator[str]:
    """Login codes for new users, as wx.login() would hand them out: one per login."""
    for _ in range(count):
        yield wechat.login_code()


def sign_in(base: str, wechat: FakeWeChat) -> str:
    response = requests.post(
        f"{base}/api/login", json={"code": wechat.login_code()}, timeout=10
    ).json()
    assert response["code"] == 1, response
    return f"Bearer {response['data']['token']}"


def startup_seconds(env: dict[str, str], workers: int) -> float:
    """From starting gunicorn to the first 200 on /api/count (migrations already applied)."""
    began = time.monotonic()
    with LiveServer(env, workers=workers, ready_path="/api/count", poll_interval=0.01):
        return time.monotonic() - began


@dataclass(frozen=True)
class Plan:
    """How much the run measures: the full run, or `--quick`'s shorter one."""

    duration: float  # seconds per wrk run
    rounds: int  # floor/endpoint pairs per endpoint
    round_trip_requests: int  # requests, one at a time, to count statements
    incs: int  # increments at concurrency 32, for lost updates
    startups: int  # gunicorn starts timed
    yardstick_seconds: float  # raw PyMySQL throughput, each of SELECT and UPDATE
    warm: int  # requests over new connections per endpoint and server, before counting

    #: Starting MySQL, both servers and the sign-in, and the pools' warm-up at full
    #: concurrency (1 s per server); each gunicorn start timed; one request
    #: of the round-trip count; one increment (all measured on a 2-core machine, rounded up).
    SETUP_SECONDS: ClassVar[float] = 14.0
    STARTUP_SECONDS: ClassVar[float] = 1.5
    ONE_REQUEST_SECONDS: ClassVar[float] = 0.01
    ONE_INC_SECONDS: ClassVar[float] = 0.002

    def wrk_runs(self) -> int:
        return self.rounds * sum(2 if e.floor else 1 for e in ENDPOINTS)

    def seconds(self) -> float:
        """What the run should take, from its parts: printed before it starts."""
        warm = self.warm * sum(2 if e.floor else 1 for e in ENDPOINTS)
        return (
            self.SETUP_SECONDS
            + 2 * self.yardstick_seconds
            + (warm + self.round_trip_requests * len(ENDPOINTS)) * self.ONE_REQUEST_SECONDS
            + self.wrk_runs() * (self.duration + 0.5)
            + 2  # wrk's queued requests land before the count
            + self.incs * self.ONE_INC_SECONDS
            + self.startups * self.STARTUP_SECONDS
        )


FULL = Plan(
    duration=10,
    rounds=3,
    round_trip_requests=200,
    incs=2000,
    startups=3,
    yardstick_seconds=5,
    warm=20,
)
QUICK = Plan(
    duration=2,
    rounds=1,
    round_trip_requests=30,
    incs=400,
    startups=1,
    yardstick_seconds=1,
    warm=8,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="under a minute: 2 s runs, one round, fewer requests (figures are rougher)",
    )
    parser.add_argument("--duration", type=float, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="wrk's connections")
    parser.add_argument("--rounds", type=int, help="floor/endpoint pairs per endpoint")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    plan = replace(
        plan,
        duration=args.duration if args.duration is not None else plan.duration,
        rounds=args.rounds if args.rounds is not None else plan.rounds,
    )
    c = args.concurrency
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk)")
    began = time.monotonic()
    print(
        f"bench: about {plan.seconds():.0f} s: {plan.wrk_runs()} wrk runs of "
        f"{plan.duration:.0f} s, {plan.rounds} round(s), {plan.incs} increments, "
        f"{plan.startups} timed start(s)" + (" (--quick)" if args.quick else ""),
        flush=True,
    )

    provider = choose_provider(os.environ)
    if isinstance(provider, LocalBinaryServer | ContainerServer):
        provider.durable = True  # measured as a real server runs: on disk, a flush per commit
    server = provider.start()
    version = server.execute("SELECT VERSION()")[0][0]
    print(f"mysql: {provider.name} ({server.description}), {version}", flush=True)
    pairs: dict[str, list[tuple[Result | None, Result]]] = {e.name: [] for e in ENDPOINTS}
    trips: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch, FakeWeChat() as wechat:
        codes = Path(scratch) / "codes.txt"
        try:
            with server.scratch_database() as name:
                env = {
                    "DATABASE_URL": server.url(name),
                    "AUTO_MIGRATE": "true",
                    "GUNICORN_LOG_LEVEL": "warning",
                    "TOKEN_SECRET": os.urandom(32).hex(),
                    "WX_API_BASE": wechat.base_url,
                    "WX_APPID": wechat.appid,
                    "WX_SECRET": wechat.secret,
                    # One client address logs everyone in here; the limits have tests of their own.
                    "LOGIN_LIMIT_PER_ADDRESS": "100000000",
                    "LOGIN_LIMIT_PER_OPENID": "100000000",
                }
                with LiveServer(env, workers=args.workers) as live:
                    concurrent_incs(live.url, total=1, clients=1)  # the counter row exists
                    auth = sign_in(live.url, wechat)  # the first user: bench/floor.py's
                    floor = LiveServer(
                        env, workers=args.workers, command=FLOOR_COMMAND, ready_path="/api/count"
                    )
                    with floor:
                        check_floor(floor.url)
                        yardsticks = {
                            "SELECT": yardstick(
                                server,
                                name,
                                "SELECT count FROM Counters WHERE id = 1",
                                c,
                                plan.yardstick_seconds,
                            ),
                            "UPDATE": yardstick(
                                server,
                                name,
                                "UPDATE Counters SET count = count + 1 WHERE id = 1",
                                c,
                                plan.yardstick_seconds,
                            ),
                        }

                        counter = QuestionCounter(server, name)
                        session = requests.Session()
                        for endpoint in ENDPOINTS:

                            def send(
                                e: Endpoint = endpoint, fresh: bool = False, base: str = live.url
                            ) -> int:
                                via = requests.Session() if fresh else session
                                return e.request(via, base, auth, wechat.login_code())

                            # Warm, over new connections so that every worker has served it
                            # (a worker's first login also does its rate-limit housekeeping,
                            # and the floor's workers open their pooled connections).
                            for _ in range(plan.warm):
                                send(fresh=True)
                                if endpoint.floor:
                                    send(fresh=True, base=floor.url)
                            trips[endpoint.name] = counter.per_request(
                                send, plan.round_trip_requests
                            )
                        counter.close()

                        # Each worker's pool opens its connections as concurrency needs
                        # them; a second at full concurrency on each server opens them all,
                        # so that the measured runs see the pools a running service has.
                        for warmed in (floor, live):
                            wrk(warmed.url, c, 1, ENDPOINTS[0], auth, None)

                        # The floor is measured right before each endpoint, and the ratio
                        # taken within each pair: this machine's speed drifts by more than
                        # the differences measured here.
                        for _ in range(plan.rounds):
                            for endpoint in ENDPOINTS:
                                if endpoint.login:  # fresh codes, more than the run could use
                                    codes.write_text(
                                        "\n".join(mint_codes(wechat, int(3000 * plan.duration)))
                                    )
                                base = None
                                if endpoint.floor:
                                    base = measured(
                                        floor,
                                        functools.partial(
                                            wrk, floor.url, c, plan.duration, endpoint, auth, None
                                        ),
                                    )
                                row = measured(
                                    live,
                                    functools.partial(
                                        wrk, live.url, c, plan.duration, endpoint, auth, codes
                                    ),
                                )
                                pairs[endpoint.name].append((base, row))

                    # wrk stops with requests still queued in the server: let them land
                    # before counting, so that they are not mistaken for lost updates.
                    time.sleep(2)
                    count_url = f"{live.url}/api/count"
                    start = requests.get(count_url, timeout=5).json()["data"]
                    values = concurrent_incs(live.url, total=plan.incs, clients=32)
                    final = requests.get(count_url, timeout=5).json()["data"]
                startups = [startup_seconds(env, args.workers) for _ in range(plan.startups)]
        finally:
            provider.stop()

    print()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"server: gunicorn, gunicorn.conf.py (worker class {worker_class()}), "
        f"{args.workers} workers; load: wrk -t{min(c, WRK_THREADS)} -c{c}, "
        f"{plan.duration:.0f} s each, {plan.rounds} round(s); "
        f"round trips: {plan.round_trip_requests} requests one at a time"
    )
    print(
        f"raw PyMySQL at concurrency {c}, {plan.yardstick_seconds:.0f} s each: "
        f"SELECT {yardsticks['SELECT']:,.0f}/s, UPDATE {yardsticks['UPDATE']:,.0f}/s"
    )
    print()
    met = report(pairs, trips, plan)
    print()
    lost = start + plan.incs - final
    exact = sorted(values) == list(range(start + 1, start + plan.incs + 1))
    print(
        f"lost updates: {plan.incs} incs at concurrency 32 from {start} -> final count {final}, "
        f"{len(set(values))} distinct values returned, {lost} lost, "
        f"values exactly {start + 1}..{start + plan.incs}: {'yes' if exact else 'NO'}"
    )
    met &= lost == 0 and exact
    print(
        "startup (gunicorn started -> first 200 on /api/count, migrations applied): "
        + ", ".join(f"{s:.2f} s" for s in startups)
        + f" (median {statistics.median(startups):.2f} s, target <= 1.5 s)"
    )
    met &= statistics.median(startups) <= 1.5
    print(f"took {time.monotonic() - began:.0f} s (estimated {plan.seconds():.0f} s)")
    print(f"targets: {'all met' if met else 'NOT all met'}")
    return 0 if met else 1


def check_floor(url: str) -> None:
    """The floor answers each route with data: the signed-in user is the one it reads."""
    for path in ("/api/count", "/api/user/profile"):
        body = requests.get(url + path, timeout=5).json()
        if body.get("code") != 1 or body.get("data") is None:
            raise SystemExit(f"bench: the driver floor answered {path} with {body}")


def worker_class() -> str:
    """The worker class gunicorn.conf.py names, as gunicorn itself reads it."""
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "bench.floor:create_app()"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "mysql://unused@127.0.0.1/unused"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "worker_class":
            return value.strip()
    return "unknown"


def report(
    pairs: dict[str, list[tuple[Result | None, Result]]], trips: dict[str, float], plan: Plan
) -> bool:
    """The table, with a verdict per target; whether every target was met."""
    header = (
        f"{'endpoint':<24}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
        f"{'CPU ms':>8}{'floor ms':>9}{'x floor':>8}{'db ms':>7}{'trips':>7}  target"
    )
    print(header)
    print("-" * len(header))
    met = True
    median = statistics.median
    for endpoint in ENDPOINTS:
        runs = pairs[endpoint.name]
        rows = [row for _, row in runs]
        bases = [base for base, _ in runs if base is not None]
        ratios = [row.cpu_ms() / base.cpu_ms() for base, row in runs if base is not None]
        ratio = median(ratios) if ratios else None
        round_trips = trips[endpoint.name]
        verdicts = []
        if endpoint.cpu_target is not None and ratio is not None:
            ok = ratio <= endpoint.cpu_target
            met &= ok
            verdicts.append(f"<={endpoint.cpu_target}x {'ok' if ok else 'MISSED'}")
        if endpoint.trips_target is not None:
            ok = round_trips <= endpoint.trips_target
            met &= ok
            verdicts.append(f"<={endpoint.trips_target} trips {'ok' if ok else 'MISSED'}")
        p99 = median(row.p99_ms or 0 for row in rows)
        if endpoint.method == "GET":
            ok = p99 < 50
            met &= ok
            verdicts.append(f"p99<50ms {'ok' if ok else 'MISSED'}")
        errors = sum(r.errors for r in rows)
        if errors:
            met = False
            verdicts.append("errors MISSED")
        floor_ms = f"{median(b.cpu_ms() for b in bases):>9.3f}" if bases else f"{'-':>9}"
        times = f"{ratio:>8.2f}" if ratio is not None else f"{'-':>8}"
        print(
            f"{endpoint.name:<24}{median(r.rate for r in rows):>8,.0f}"
            f"{median(r.p50_ms or 0 for r in rows):>8.1f}{p99:>8.1f}"
            f"{errors:>7}{median(r.cpu_ms() for r in rows):>8.3f}"
            f"{floor_ms}{times}"
            f"{median(r.cpu_ms('db') for r in rows):>7.3f}{round_trips:>7.2f}"
            f"  {', '.join(verdicts)}"
        )
        if bases:
            print(
                f"{'  its floor':<24}{median(b.rate for b in bases):>8,.0f}"
                f"{median(b.p50_ms or 0 for b in bases):>8.1f}"
                f"{median(b.p99_ms or 0 for b in bases):>8.1f}"
            )
        for base in bases:
            if base.errors:
                met = False
                print(f"  the floor had {base.errors} errors on {endpoint.name}: MISSED")
    print()
    print(
        f"medians of {plan.rounds} round(s); floor: bench/floor.py, the same request as one raw "
        "PyMySQL round trip; x floor: each run's CPU per request over the floor's in the run "
        "just before it"
    )
    return met


if __name__ == "__main__":
    sys.exit(main())
