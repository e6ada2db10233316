"""Properties over input spaces: JSON bodies, payload field rules at their limits, and
the settings read from the environment (the counter's property: test_counter_api.py).

Each property states the rule as the API documents it and lets hypothesis look for
a counterexample; a failure prints the smallest one it found.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st

from service import payload
from service.config import MAX_SECONDS, Config, ConfigError
from service.errors import ApiError
from service.target import resolve_target

BARE = Flask("payload-properties")
BARE.config["MAX_CONTENT_LENGTH"] = 64 * 1024

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def refusal(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def parse(raw: bytes, content_type: str = "application/json") -> dict[str, Any]:
    with BARE.test_request_context(method="POST", data=raw, content_type=content_type):
        return payload.json_object()


# -- JSON bodies


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_every_json_object_is_read_back_as_sent(body: dict[str, Any]) -> None:
    assert parse(json.dumps(body).encode()) == body


@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_a_json_body_that_is_not_an_object_is_invalid_json(body: Any) -> None:
    error = refusal(lambda: parse(json.dumps(body).encode()))
    assert (error.kind.status, error.kind.key) == (400, "invalid_json")


@given(st.binary(max_size=64))
@example(b"\xed\xa0\x80")  # a lone surrogate as bytes, which Python's decoder lets through
@example(b'{"a": NaN}')
@example(b'{"a": "\\ud800"}')
@example(b"[" * 5000)
def test_any_bytes_give_an_object_or_invalid_json_never_a_crash(raw: bytes) -> None:
    try:
        value = parse(raw)
    except ApiError as error:
        refused = (error.kind.status, error.kind.key)
    else:
        assert isinstance(value, dict)
        json.dumps(value, allow_nan=False).encode("utf-8")  # storable and printable
        return
    assert refused == (400, "invalid_json")


@given(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]))
def test_a_body_that_is_not_declared_json_is_415(content_type: str) -> None:
    error = refusal(lambda: parse(b"{}", content_type))
    assert (error.kind.status, error.kind.key) == (415, "unsupported_media_type")


# -- payload field rules at and around their limits

lengths_near = st.integers(1, 40).flatmap(
    lambda limit: st.tuples(st.just(limit), st.sampled_from([limit - 1, limit, limit + 1]))
)


@given(lengths_near, st.characters(blacklist_categories=["Cs", "Zs", "Cc"]))
def test_text_is_accepted_up_to_its_limit_and_refused_past_it(
    limit_and_length: tuple[int, int], char: str
) -> None:
    limit, length = limit_and_length
    value = char * length
    if 1 <= length <= limit:
        assert payload.optional_text({"nickName": value}, "nickName", limit) == value
        assert payload.required_text({"nickName": value}, "nickName", limit) == value
        return
    error = refusal(lambda: payload.optional_text({"nickName": value}, "nickName", limit))
    assert (error.kind.status, error.kind.key) == (400, "invalid_parameter")
    assert error.message == f"nickName参数错误：须为不超过{limit}个字符的字符串"


@given(st.text(alphabet=" \t\n\r\u3000", max_size=5), st.text(max_size=3))
def test_text_is_stripped_and_blank_text_is_refused(padding: str, core: str) -> None:
    value = padding + core + padding
    body = {"name": value}
    if value.strip():
        assert payload.optional_text(body, "name", 100) == value.strip()
    else:
        assert (
            refusal(lambda: payload.optional_text(body, "name", 100)).kind.key
            == "invalid_parameter"
        )


@given(json_values.filter(lambda v: v is not None and not isinstance(v, str)))
def test_text_fields_refuse_every_other_json_type(value: Any) -> None:
    error = refusal(lambda: payload.optional_text({"name": value}, "name", 100))
    assert (error.kind.status, error.kind.key) == (400, "invalid_parameter")


def test_absent_and_null_text_is_none_or_missing() -> None:
    for body in ({}, {"name": None}):
        assert payload.optional_text(body, "name", 5) is None
        error = refusal(lambda body=body: payload.required_text(body, "name", 5))
        assert (error.kind.status, error.kind.key, error.message) == (
            400,
            "missing_parameter",
            "缺少name参数",
        )


@given(st.frozensets(st.integers(-3, 5), min_size=1, max_size=4), json_values)
@example(frozenset({0, 1}), True)
@example(frozenset({0, 1}), False)
@example(frozenset({1}), 1.0)
def test_a_choice_is_one_of_its_integers_and_nothing_else(
    choices: frozenset[int], value: Any
) -> None:
    body = {"role": value}
    valid = type(value) is int and value in choices
    if value is None:
        assert payload.optional_choice(body, "role", set(choices)) is None
    elif valid:
        assert payload.optional_choice(body, "role", set(choices)) == value
    else:
        error = refusal(lambda: payload.optional_choice(body, "role", set(choices)))
        allowed = "、".join(str(c) for c in sorted(choices))
        assert (error.kind.status, error.kind.key, error.message) == (
            400,
            "invalid_parameter",
            f"role参数错误：须为{allowed}之一",
        )


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
paths = st.text(alphabet=string.ascii_letters + string.digits + "/-_.~%", max_size=30)


@given(hosts, st.none() | st.integers(1, 65535), paths)
def test_every_plain_https_url_is_accepted(host: str, port: int | None, path: str) -> None:
    url = f"https://{host}{'' if port is None else f':{port}'}/{path}"
    assert payload.optional_https_url({"avatarUrl": url}, "avatarUrl", 500) == url


NOT_PLAIN_HTTPS = [
    "http://{h}/a",
    "ftp://{h}/a",
    "https://u:p@{h}/a",
    "https://u@{h}/",
    "https:///{h}",
    "https://{h}/a b",
    "https://{h}:port/",
    "//{h}/a",
    "https://{h}/\x00",
    "https://{h}/\x7f",
    "javascript:{h}",
]


def with_every_shape(test: Callable[[str, str], None]) -> Callable[[str, str], None]:
    """Each shape once on a fixed host as well, whatever the random draw brings.

    Drawn 40 times from 11 shapes, one shape is left out of about one run in 45:
    a mutation run once kept a mutant alive that only the DEL shape can catch.
    """
    for shape in NOT_PLAIN_HTTPS:
        test = example(host="img.example", shape=shape)(test)
    return test


@with_every_shape
@given(hosts, st.sampled_from(NOT_PLAIN_HTTPS))
def test_urls_that_are_not_plain_https_are_refused(host: str, shape: str) -> None:
    url = shape.format(h=host)
    error = refusal(lambda: payload.optional_https_url({"avatarUrl": url}, "avatarUrl", 500))
    assert (error.kind.status, error.kind.key, error.message) == (
        400,
        "invalid_parameter",
        "avatarUrl参数错误：须为https链接",
    )


names = st.from_regex(r"[a-z][a-zA-Z]{0,8}", fullmatch=True)


@given(st.sets(names, max_size=5), st.sets(names, max_size=5), st.sets(names, max_size=3))
def test_only_fields_refuses_protected_then_unknown_then_empty(
    sent: set[str], allowed: set[str], protected: set[str]
) -> None:
    body = dict.fromkeys(sent, 1)
    call = lambda: payload.only_fields(body, allowed, frozenset(protected))  # noqa: E731
    if sent & protected:
        error = refusal(call)
        assert (error.kind.status, error.kind.key) == (403, "field_not_allowed")
        assert error.message.removeprefix("不允许修改") in protected
    elif sent - allowed:
        error = refusal(call)
        assert (error.kind.status, error.kind.key) == (400, "unknown_field")
        assert error.message == f"包含未知字段：{', '.join(sorted(sent - allowed))}"
    elif not sent:
        error = refusal(call)
        assert (error.kind.key, error.message) == ("missing_parameter", "没有要修改的字段")
    else:
        call()


# -- settings read from the environment

words = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
secrets = st.text(min_size=0, max_size=20).filter(lambda s: "\x00" not in s)


@given(secrets, secrets, hosts, st.integers(1, 65535), words)
def test_a_mysql_database_url_is_read_back_field_by_field(
    user: str, password: str, host: str, port: int, name: str
) -> None:
    url = f"mysql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{name}"
    target = resolve_target(Config(database_url=url), "/unused")
    assert (target.dialect, target.user or "", target.password, target.host, target.port) == (
        "mysql",
        user or "root",
        password,
        host,
        port,
    )
    assert target.name == name
    assert target.describe() == f"mysql {user or 'root'}@{host}:{port}/{name}"


@given(st.text(alphabet=string.ascii_letters + string.digits + "/._-", min_size=1, max_size=30))
def test_an_sqlite_database_url_names_its_file(path: str) -> None:
    target = resolve_target(Config(database_url=f"sqlite:///{path}"), "/unused")
    assert (target.dialect, target.name) == ("sqlite", path)


@given(st.from_regex(r"[a-z][a-z0-9+.-]{0,10}", fullmatch=True), words)
def test_a_database_url_of_another_kind_is_refused_by_name(scheme: str, rest: str) -> None:
    if scheme.split("+", 1)[0] in ("sqlite", "mysql"):
        return
    with pytest.raises(ConfigError, match="DATABASE_URL must start with sqlite:// or mysql://"):
        resolve_target(Config(database_url=f"{scheme}://{rest}"), "/unused")


padding = st.text(alphabet=" \t", max_size=2)


@given(st.integers(-(10**6), 10**6), padding)
def test_a_whole_number_setting_takes_1_and_more(value: int, pad: str) -> None:
    env = {"MYSQL_POOL_SIZE": f"{pad}{value}{pad}"}
    if value >= 1:
        assert Config.from_env(env).mysql_pool_size == value
    else:
        with pytest.raises(ConfigError, match=f"MYSQL_POOL_SIZE must be at least 1, not {value}"):
            Config.from_env(env)


@given(st.text(min_size=1, max_size=8).filter(lambda s: s.strip() and not _is_int(s.strip())))
def test_a_whole_number_setting_refuses_other_text_by_name(raw: str) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_COUNT must be a whole number"):
        Config.from_env({"TRUSTED_PROXY_COUNT": raw})


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


@given(
    st.sampled_from(["1", "true", "yes", "on", "0", "false", "no", "off"]).flatmap(
        lambda word: st.tuples(
            st.just(word),
            st.lists(st.booleans(), min_size=len(word), max_size=len(word)),
        )
    ),
    padding,
)
def test_a_flag_reads_its_words_in_any_case(
    word_and_case: tuple[str, list[bool]], pad: str
) -> None:
    word, upper = word_and_case
    raw = pad + "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True)) + pad
    expected = word in ("1", "true", "yes", "on")
    assert Config.from_env({"AUTO_MIGRATE": raw}).auto_migrate is expected


@given(st.text(min_size=1, max_size=8))
def test_a_flag_refuses_any_other_word_by_name(raw: str) -> None:
    if raw.strip().lower() in {"1", "true", "yes", "on", "0", "false", "no", "off", ""}:
        return
    with pytest.raises(ConfigError, match="WX_TRUST_CLOUD_HEADERS must be true or false"):
        Config.from_env({"WX_TRUST_CLOUD_HEADERS": raw})


@given(st.floats())
def test_a_seconds_setting_takes_positive_numbers_up_to_an_hour_only(value: float) -> None:
    env = {"MYSQL_READ_TIMEOUT": repr(value)}
    if 0 < value <= MAX_SECONDS:
        assert Config.from_env(env).mysql_read_timeout == value
    else:
        if math.isnan(value):
            refusal = "a number of seconds"
        else:
            refusal = "positive" if value <= 0 else f"at most {MAX_SECONDS} seconds"
        with pytest.raises(ConfigError, match=f"MYSQL_READ_TIMEOUT must be {refusal}, not"):
            Config.from_env(env)
