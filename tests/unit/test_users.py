"""Finding or creating the user WeChat vouches for, including the lost race of two first logins."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from service import users
from service.models import User

pytestmark = pytest.mark.both_databases  # rerun on MySQL: nox -s integration


@pytest.fixture
def lookup_before_the_winner(monkeypatch: pytest.MonkeyPatch) -> None:
    """This login's lookup ran just before another login's INSERT of the same openid."""

    def found_nothing(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(User, "get_or_none", found_nothing)


@pytest.mark.usefixtures("app", "lookup_before_the_winner")
def test_the_loser_of_two_first_logins_reads_the_winners_row() -> None:
    User.create(openid="oSomeoneElse")  # the winner's row is not simply the first one
    winner = User.create(openid="oRacing")
    user, created = users.find_or_create("oRacing")
    assert (user.id, user.openid, created) == (winner.id, "oRacing", False)
    assert User.select().count() == 2


@pytest.mark.usefixtures("app", "lookup_before_the_winner")
def test_the_loser_still_records_a_unionid_the_winner_lacked() -> None:
    winner = User.create(openid="oRacingUnion")
    user, created = users.find_or_create("oRacingUnion", "uRacingUnion")
    assert (user.id, user.unionid, created) == (winner.id, "uRacingUnion", False)
    assert User.get_by_id(winner.id).unionid == "uRacingUnion"


def test_a_first_login_creates_once_and_a_second_finds(app: Flask) -> None:
    first, created = users.find_or_create("oOnce", "uOnce")
    again, created_again = users.find_or_create("oOnce")
    assert (created, created_again) == (True, False)
    assert (again.id, again.unionid) == (first.id, "uOnce")
    assert User.select().count() == 1
