"""The verified-token memo in service.tokens answers exactly as a fresh check would."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

from service import tokens
from service.errors import ApiError

SECRET = "memo-test-secret-" + "9f8e7d6c5b4a" * 4
OTHER_SECRET = "memo-other-secret-" + "0a1b2c3d4e5f" * 4


def issue(ttl: int = 60, secret: str = SECRET) -> str:
    return tokens.issue_access_token(
        secret, user_id=7, openid="oMemo", role=1, session_key="s" * 32, ttl=ttl
    )


def error_key(secret: str, token: str, clock: Callable[[], float] = time.time) -> str:
    with pytest.raises(ApiError) as raised:
        tokens.decode_access_token(secret, token, clock)
    return raised.value.kind.key


def test_a_remembered_token_still_expires_at_its_exp() -> None:
    token = issue(ttl=30)
    assert tokens.decode_access_token(SECRET, token)["sub"] == "7"
    assert (SECRET, token) in tokens._VERIFIED
    later = time.time() + 31
    assert error_key(SECRET, token, clock=lambda: later) == "token_expired"
    assert (SECRET, token) not in tokens._VERIFIED


def test_a_token_remembered_under_one_secret_is_invalid_under_another() -> None:
    token = issue()
    tokens.decode_access_token(SECRET, token)
    assert error_key(OTHER_SECRET, token) == "token_invalid"


def test_refused_tokens_are_never_remembered() -> None:
    forged = issue(secret=OTHER_SECRET)
    assert error_key(SECRET, forged) == "token_invalid"
    assert error_key(SECRET, forged) == "token_invalid"
    assert (SECRET, forged) not in tokens._VERIFIED


@pytest.fixture
def empty_memo(monkeypatch: pytest.MonkeyPatch) -> OrderedDict[tuple[str, str], dict[str, Any]]:
    """A memo of this test's own: the process's holds whatever earlier tests verified."""
    memo: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
    monkeypatch.setattr(tokens, "_VERIFIED", memo)
    return memo


def test_callers_get_a_copy_and_the_memo_stays_bounded(
    monkeypatch: pytest.MonkeyPatch, empty_memo: OrderedDict[tuple[str, str], dict[str, Any]]
) -> None:
    monkeypatch.setattr(tokens, "_VERIFIED_MAX", 5)
    first = issue()
    claims = tokens.decode_access_token(SECRET, first)
    claims["sub"] = "999"
    assert tokens.decode_access_token(SECRET, first)["sub"] == "7"
    newest = [issue(ttl=60 + n) for n in range(10)]
    for token in newest:
        tokens.decode_access_token(SECRET, token)
    assert list(empty_memo) == [(SECRET, t) for t in newest[-5:]]  # the oldest went first


def test_a_remembered_token_is_expired_at_the_second_of_its_exp(
    empty_memo: OrderedDict[tuple[str, str], dict[str, Any]],
) -> None:
    """PyJWT's rule (expired when exp <= now), kept by the memo too."""
    token = issue(ttl=30)
    exp = tokens.decode_access_token(SECRET, token)["exp"]
    assert tokens.decode_access_token(SECRET, token, clock=lambda: exp - 0.001)["exp"] == exp
    assert error_key(SECRET, token, clock=lambda: float(exp)) == "token_expired"
    assert not empty_memo
