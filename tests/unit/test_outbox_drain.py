"""Two `flask outbox drain` processes at once over the same pending rows: each row is sent
exactly once, counted at the fake WeChat (rerun on MySQL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from service import create_app, db, outbox, subscriptions
from service.config import Config
from service.models import Notification, User
from service.templates import VERIFICATION_RESULT
from tests.support.databases import Database
from tests.support.fake_wechat import SUBSCRIBE_SEND, FakeWeChat
from tests.support.live_server import PROJECT_ROOT
from tests.support.outbox import TEMPLATE, eventually

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration

ROWS = 50


@pytest.fixture
def shared(config: Config, database: Database, tmp_path: Path) -> Iterator[Flask]:
    """The app on a database other processes can open too."""
    url = config.database_url or ""
    if not url.startswith("mysql://"):
        url = f"sqlite:///{tmp_path / 'drain.sqlite3'}"
    app = create_app(replace(config, database_url=url, wx_template_verification_result=TEMPLATE))
    database.give_tables()
    yield app
    db.dispose()


def drain_process(app: Flask, fake: FakeWeChat) -> subprocess.Popen[str]:
    settings: Config = app.config["SERVICE"]
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "WX_API_BASE": fake.base_url,
        "WX_APPID": fake.appid,
        "WX_SECRET": fake.secret,
        "WX_TEMPLATE_VERIFICATION_RESULT": TEMPLATE,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "outbox", "drain"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count(output: str, word: str) -> int:
    """A number from the drain's last line: `pending 0, sent 22, ..., skipped 28, abandoned 0`."""
    found = re.search(rf"\b{word} (\d+)", output.splitlines()[-1])
    assert found is not None, output
    return int(found.group(1))


def test_two_drains_at_once_send_each_row_exactly_once(
    shared: Flask, fake_wechat: FakeWeChat
) -> None:
    with shared.app_context():
        for n in range(ROWS):
            user = User.create(openid=f"oPending{n:03d}")
            subscriptions.grant(user.id, TEMPLATE)
            fake_wechat.subscribe(user.openid, TEMPLATE)
            outbox.notify(VERIFICATION_RESULT, user.id, {"thing1": {"value": f"第{n}条"}})
    db.close_connection()
    # Each drain's first send waits at the fake until the other's has arrived too: both
    # are then sending at once, from the same due rows, for the rest of the run.
    fake_wechat.stall(SUBSCRIBE_SEND, 60, times=2)
    drains = [drain_process(shared, fake_wechat) for _ in range(2)]
    try:
        eventually(lambda: fake_wechat.stalling[SUBSCRIBE_SEND] == 2, timeout=60)
        fake_wechat.release(SUBSCRIBE_SEND)
        outputs = [drain.communicate(timeout=120) for drain in drains]
    finally:
        for drain in drains:
            drain.kill()
            drain.wait()
    for drain, (_, err) in zip(drains, outputs, strict=True):
        assert drain.returncode == 0, err
    sent, skipped = ([count(out, word) for out, _ in outputs] for word in ("sent", "skipped"))
    assert sum(sent) == ROWS
    assert min(sent) >= 1  # both drains did send...
    assert sum(skipped) >= 1  # ...and each found rows the other had claimed

    per_user = Counter(message["touser"] for message in fake_wechat.delivered)
    assert len(per_user) == ROWS
    assert set(per_user.values()) == {1}
    assert fake_wechat.calls[SUBSCRIBE_SEND] == ROWS
    with shared.app_context():
        rows = list(Notification.select())
        assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
        left = {subscriptions.remaining(row.user_id, [TEMPLATE])[TEMPLATE] for row in rows}
        assert left == {0}  # each permission spent once
