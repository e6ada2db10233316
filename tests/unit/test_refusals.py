"""Every setting the service reads, given a value it cannot use: the one line that refuses it.

The line names the variable, says what is wrong and how to put it right, and
never repeats a secret. gunicorn's master and `flask` end with it, and a
non-zero exit, before anything starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from service import settings
from service.config import ConfigError
from service.target import resolve_target
from tests.support.live_server import PROJECT_ROOT, error_messages, gunicorn_until_it_stops
from tests.support.net import free_port
from tests.support.settings import variables_the_config_reads

DATABASE_URL_FIX = (
    "mysql://user:password@host:3306/database, with any / ? # @ in the password "
    "percent-encoded (%2F %3F %23 %40)"
)
MAKE_A_SECRET = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"

#: (variable, value, the line). TOKEN_SECRET's lines need APP_ENV=production, given below.
REFUSALS = [
    ("APP_ENV", "prod", "APP_ENV must be development or production, not 'prod'"),
    (
        "DATABASE_URL",
        "postgres://app:pg-secret@db/app",
        "DATABASE_URL must start with sqlite:// or mysql:// (not postgres://)",
    ),
    (
        "DATABASE_URL",
        "app:no-scheme-secret@db/app",
        "DATABASE_URL must start with sqlite:// or mysql:// (and this value has no scheme)",
    ),
    (
        "DATABASE_URL",
        "mysql://app:port-secret@db:33o6/app",
        f"DATABASE_URL has a port that is not a number from 1 to 65535; write {DATABASE_URL_FIX}",
    ),
    (
        "DATABASE_URL",
        "mysql://app:range-secret@db:70000/app",
        f"DATABASE_URL has a port that is not a number from 1 to 65535; write {DATABASE_URL_FIX}",
    ),
    # A '/' in the password ends the host part early: what looks like the port, or the
    # database name, is then a piece of the password, which no refusal or log may show.
    (
        "DATABASE_URL",
        "mysql://app:leaked/secret@db/app",
        f"DATABASE_URL has '@' after the host; write {DATABASE_URL_FIX}",
    ),
    (
        "DATABASE_URL",
        "mysql://app:3307/secret@db/app",
        f"DATABASE_URL has '@' after the host; write {DATABASE_URL_FIX}",
    ),
    (
        "DATABASE_URL",
        "mysql://app:name-secret@db:3306",
        f"DATABASE_URL names no MySQL database; write {DATABASE_URL_FIX}",
    ),
    (
        "DATABASE_URL",
        "mysql://app:query-secret@db/app?ssl=1",
        "DATABASE_URL takes no query options; use the MYSQL_* settings",
    ),
    (
        "DATABASE_URL",
        "sqlite://",
        "DATABASE_URL names no SQLite file; write sqlite:///relative.db "
        "or sqlite:////absolute/path.db",
    ),
    (
        "MYSQL_ADDRESS",
        "10.0.0.5:mysql",
        "MYSQL_ADDRESS has port 'mysql', not a number from 1 to 65535; "
        "write host:port, such as 10.0.0.5:3306",
    ),
    ("MYSQL_POOL_SIZE", "0", "MYSQL_POOL_SIZE must be at least 1, not 0"),
    ("MYSQL_CONNECT_TIMEOUT", "2s", "MYSQL_CONNECT_TIMEOUT must be a whole number, not '2s'"),
    ("MYSQL_CONNECT_TIMEOUT", "86400", "MYSQL_CONNECT_TIMEOUT must be at most 3600, not 86400"),
    ("MYSQL_READ_TIMEOUT", "soon", "MYSQL_READ_TIMEOUT must be a number of seconds, not 'soon'"),
    ("MYSQL_WRITE_TIMEOUT", "-1", "MYSQL_WRITE_TIMEOUT must be positive, not '-1'"),
    # float() takes these, and a socket refuses them: every connection would fail.
    ("MYSQL_READ_TIMEOUT", "nan", "MYSQL_READ_TIMEOUT must be a number of seconds, not 'nan'"),
    ("MYSQL_READ_TIMEOUT", "inf", "MYSQL_READ_TIMEOUT must be at most 3600 seconds, not 'inf'"),
    ("WX_READ_TIMEOUT", "1e23", "WX_READ_TIMEOUT must be at most 3600 seconds, not '1e23'"),
    ("MYSQL_WAKE_TIMEOUT", "0", "MYSQL_WAKE_TIMEOUT must be positive, not '0'"),
    ("AUTO_MIGRATE", "maybe", "AUTO_MIGRATE must be true or false, not 'maybe'"),
    ("MAX_BODY_BYTES", "64k", "MAX_BODY_BYTES must be a whole number, not '64k'"),
    ("REQUEST_READ_TIMEOUT", "ten", "REQUEST_READ_TIMEOUT must be a number of seconds, not 'ten'"),
    (
        "TOKEN_SECRET",
        "",
        f"TOKEN_SECRET is not set; production needs a random secret; {MAKE_A_SECRET}",
    ),
    (
        "TOKEN_SECRET",
        "short-secret-value",
        f"TOKEN_SECRET is shorter than 32 bytes; use a random secret; {MAKE_A_SECRET}",
    ),
    (
        "TOKEN_SECRET",
        "dev-only-token-secret-not-for-production",
        f"TOKEN_SECRET is an example value from the documentation; {MAKE_A_SECRET}",
    ),
    ("ACCESS_TOKEN_TTL", "2h", "ACCESS_TOKEN_TTL must be a whole number, not '2h'"),
    ("REFRESH_TOKEN_TTL", "0", "REFRESH_TOKEN_TTL must be at least 1, not 0"),
    # A lifetime past year 9999 is no datetime: every sign-in would be a 500.
    (
        "REFRESH_TOKEN_TTL",
        "999999999999",
        "REFRESH_TOKEN_TTL must be at most 31622400, not 999999999999",
    ),
    ("ACCESS_TOKEN_TTL", "31622401", "ACCESS_TOKEN_TTL must be at most 31622400, not 31622401"),
    ("WX_OPENAPI_MODE", "relay", "WX_OPENAPI_MODE must be token or cloud, not 'relay'"),
    (
        "WX_API_BASE",
        "api.weixin.qq.com",
        "WX_API_BASE must be a URL such as https://api.weixin.qq.com, not 'api.weixin.qq.com'",
    ),
    ("WX_CONNECT_TIMEOUT", "0", "WX_CONNECT_TIMEOUT must be positive, not '0'"),
    ("WX_READ_TIMEOUT", "5s", "WX_READ_TIMEOUT must be a number of seconds, not '5s'"),
    (
        "WX_PUSH_PATH",
        "/api/push",
        "WX_PUSH_PATH must be a path such as /wx/push, outside /api, not '/api/push'",
    ),
    ("WX_PUSH_TRUST_ALL", "always", "WX_PUSH_TRUST_ALL must be true or false, not 'always'"),
    ("WX_TRUST_CLOUD_HEADERS", "y", "WX_TRUST_CLOUD_HEADERS must be true or false, not 'y'"),
    (
        "WX_TEMPLATE_VERIFICATION_RESULT",
        "订阅模板",
        "WX_TEMPLATE_VERIFICATION_RESULT must be a template id from the console "
        "(订阅消息: letters, digits, - and _, at most 64), not '订阅模板'",
    ),
    ("LOGIN_LIMIT_PER_ADDRESS", "0", "LOGIN_LIMIT_PER_ADDRESS must be at least 1, not 0"),
    ("LOGIN_LIMIT_PER_OPENID", "ten", "LOGIN_LIMIT_PER_OPENID must be a whole number, not 'ten'"),
    ("LOGIN_LIMIT_WINDOW", "1m", "LOGIN_LIMIT_WINDOW must be a whole number, not '1m'"),
    ("LOGIN_LIMIT_WINDOW", "10**12", "LOGIN_LIMIT_WINDOW must be a whole number, not '10**12'"),
    (
        "LOGIN_LIMIT_WINDOW",
        "1000000000000",
        "LOGIN_LIMIT_WINDOW must be at most 31622400, not 1000000000000",
    ),
    ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be at least 0, not -1"),
]

#: Settings any value of which is taken: what is wrong with them shows elsewhere, and how.
TAKEN_AS_GIVEN = {
    "MYSQL_USERNAME": "MySQL's 1045 at start: test_start_up_stops_at_once_on_what_no_retry_can_fix",
    "MYSQL_PASSWORD": "MySQL's 1045 at start, as MYSQL_USERNAME",
    "MYSQL_DATABASE": "MySQL's 1049 at start, as MYSQL_USERNAME",
    "WX_APPID": "WeChat's answer to a login; none is asked for at start",
    "WX_SECRET": "without it login answers 503 wechat_secret_missing (test_login_flow)",
}


def refused(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        settings(env)
    return str(raised.value)


def case_env(variable: str, value: str) -> dict[str, str]:
    return (
        {"APP_ENV": "production", variable: value}
        if variable == "TOKEN_SECRET"
        else {variable: value}
    )


@pytest.mark.parametrize(("variable", "value", "line"), REFUSALS)
def test_each_unusable_setting_is_refused_with_its_line(
    variable: str, value: str, line: str
) -> None:
    said = refused(case_env(variable, value))
    assert said == line
    assert "\n" not in said
    if variable == "TOKEN_SECRET" and value:
        assert value not in said
    if variable == "DATABASE_URL" and "@" in value:  # the password, between ':' and '@'
        password = value.rpartition("@")[0].split("://")[-1].partition(":")[2]
        assert not [part for part in password.split("/") if part in said]


def test_every_setting_has_a_refusal_or_says_why_any_value_is_taken() -> None:
    covered = {variable for variable, _, _ in REFUSALS} | set(TAKEN_AS_GIVEN)
    assert covered == variables_the_config_reads()


def test_app_env_takes_its_two_values_in_any_case() -> None:
    assert not settings({"APP_ENV": "Development"}).is_production
    strong = "k3J9v0xQ2mZ7LwR5tY8pA1sD4fG6hJ0kL2zX5cV7bN9m"
    assert settings({"APP_ENV": "PRODUCTION", "TOKEN_SECRET": strong}).is_production


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("mysql://u@db/app", 3306),
        ("mysql://u@db:/app", 3306),
        ("mysql://u@db:3307/app", 3307),
        ("mysql://u:p%3A1@[::1]/app", 3306),
        ("mysql://u:p@[::1]:3308/app", 3308),
    ],
)
def test_well_formed_database_urls_are_taken(url: str, port: int) -> None:

    assert resolve_target(settings({"DATABASE_URL": url}), "instance").port == port


#: The settings the issue tracker met as tracebacks, each ended by one line in both processes.
AT_START = [
    ("APP_ENV", "prod"),
    ("DATABASE_URL", "postgres://app:pg-secret@db/app"),
    ("DATABASE_URL", "mysql://app:port-secret@db:33o6/app"),
    ("MYSQL_ADDRESS", "10.0.0.5:mysql"),
]


def clean_env(**changes: str) -> dict[str, str]:
    """This process's environment without any setting of the service's, plus `changes`."""
    ours = variables_the_config_reads()
    return {k: v for k, v in os.environ.items() if k not in ours} | changes


def line_for(variable: str, value: str) -> str:
    return next(line for v, val, line in REFUSALS if (v, val) == (variable, value))


@pytest.mark.parametrize(("variable", "value"), AT_START)
def test_gunicorn_refuses_in_its_master_with_one_line(variable: str, value: str) -> None:
    env = clean_env(HOST="127.0.0.1", PORT=str(free_port()), **{variable: value})
    done = gunicorn_until_it_stops(env)
    assert done.returncode != 0
    output = done.stdout
    assert error_messages(output) == [f"refusing to start: {line_for(variable, value)}"]
    assert "Traceback" not in output
    assert "Booting worker" not in output  # the master refused before any worker started


@pytest.mark.parametrize(("variable", "value"), AT_START)
def test_flask_refuses_with_one_line(variable: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "db", "current"],
        cwd=PROJECT_ROOT,
        env=clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: refusing to start: {line_for(variable, value)}"
    assert done.stdout == ""


def test_a_host_name_that_does_not_resolve_stops_start_up_at_once() -> None:
    """Retrying a name no DNS knows only delays the line saying so (15 tries took 29 s)."""
    host = "no-such-host.invalid"  # RFC 6761: never resolves
    try:
        socket.getaddrinfo(host, 3306)
    except socket.gaierror as error:
        if error.errno != socket.EAI_NONAME:
            pytest.skip(f"this machine cannot tell a missing name from no DNS: {error}")
    env = clean_env(
        HOST="127.0.0.1",
        PORT=str(free_port()),
        MYSQL_ADDRESS=f"{host}:3306",
        AUTO_MIGRATE="true",
    )
    done = gunicorn_until_it_stops(env)
    assert done.returncode != 0
    output = done.stdout
    errors = error_messages(output)
    assert len(errors) == 1, output
    assert errors[0].startswith("refusing to start: cannot use the database: OperationalError 2003")
    assert errors[0].endswith(
        "retrying cannot fix this: the host name does not resolve: "
        "correct MYSQL_ADDRESS (or DATABASE_URL)"
    )
    assert "attempt" not in output  # not one retry
    assert "Traceback" not in output
