"""schemathesis against openapi.yaml on the live server: no 5xx, every response as specified.

Bounded: FUZZ_EXAMPLES examples per operation (default 100), a fixed seed (FUZZ_SEED),
a time budget, no example database; the live server answers on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from service.openapi import SPEC_PATH
from tests.support.fake_wechat import FakeWeChat
from tests.support.live_server import PROJECT_ROOT, LiveServer, promote
from tests.support.tools import untraced

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
# A hard stop only: --max-examples bounds the run (--max-time would make fuzzing
# repeat until the time is spent).
MAX_SECONDS = 170
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def admin_token(server: LiveServer, fake: FakeWeChat) -> str:
    """An admin, so that the fuzzer gets past authentication to every operation."""
    response = requests.post(
        f"{server.url}/api/login", json={"code": fake.login_code("oFuzzAdmin")}, timeout=10
    )
    promote(server, "oFuzzAdmin")
    return str(response.json()["data"]["token"])


def test_every_operation_keeps_its_contract(
    live_server: LiveServer, wechat_server: FakeWeChat, tmp_path: Path
) -> None:
    token = admin_token(live_server, wechat_server)
    report = tmp_path / "schemathesis.json"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            str(SPEC_PATH),
            "--url",
            live_server.url,
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES),
            "--phases",
            os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
            "--workers",
            "2",
            "--seed",
            os.environ.get("FUZZ_SEED", "20261124"),
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {token}",
            # Logging out would end the admin session the rest of the run relies on;
            # logout has tests of its own.
            "--exclude-path",
            "/api/logout",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ],
        cwd=PROJECT_ROOT,
        env=untraced(),  # the server under test is measured; the fuzzer need not be
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    summary = [line for line in run.stdout.splitlines() if "passed" in line or "operations" in line]
    print("\n".join(summary[-8:]))
