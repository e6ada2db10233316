"""bench/run.py's verdict: a missed target fails the run, and `--quick` plans under a minute."""

from __future__ import annotations

import pytest

from bench import run
from bench.run import ENDPOINTS, QUICK, Result, report


def results(
    ratio: dict[str, float], p99_ms: float = 20.0
) -> dict[str, list[tuple[Result | None, Result]]]:
    """One round per endpoint: the floor at 1 ms per request, the endpoint at `ratio` ms."""
    pairs: dict[str, list[tuple[Result | None, Result]]] = {}
    for endpoint in ENDPOINTS:
        base = Result("floor", 32, 1000.0, 5.0, 10.0, p99_ms, requests=1000, cpu={"app": 1.0})
        row = Result(
            endpoint.name,
            32,
            900.0,
            5.0,
            10.0,
            p99_ms,
            requests=1000,
            cpu={"app": ratio.get(endpoint.name, 1.0)},
        )
        pairs[endpoint.name] = [(base if endpoint.floor else None, row)]
    return pairs


TRIPS = {e.name: float(e.trips_target or 1) for e in ENDPOINTS}


def test_a_run_within_every_target_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(results({}), TRIPS, QUICK) is True
    assert "MISSED" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "ratio"),
    [("GET /api/count", 1.45), ("POST /api/count inc", 1.55), ("GET /api/user/profile", 1.6)],
)
def test_cpu_over_the_driver_floor_beyond_its_target_fails_the_run(
    capsys: pytest.CaptureFixture[str], name: str, ratio: float
) -> None:
    assert report(results({name: ratio}), TRIPS, QUICK) is False
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(name)]
    assert "x MISSED" in line


def test_a_slow_read_or_an_extra_round_trip_fails_the_run() -> None:
    assert report(results({}, p99_ms=50.0), TRIPS, QUICK) is False
    assert report(results({}), {**TRIPS, "GET /api/count": 1.02}, QUICK) is False


def test_the_quick_run_plans_under_a_minute_and_the_full_one_says_how_long() -> None:
    assert QUICK.seconds() < 60
    assert run.FULL.seconds() > QUICK.seconds()
