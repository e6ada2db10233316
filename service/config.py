"""Settings, read from the environment once, in this one place.

Cloud Run hands a container its settings as environment variables, so that is
the only source. Everything else in the service receives a `Config` and never
looks at `os.environ` itself: a test can build any configuration it needs
without touching the process environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import current_app

DEFAULT_WX_API_BASE = "https://api.weixin.qq.com"
#: 开放接口服务 (cloud call): plain HTTP inside Cloud Run; the platform adds the token.
CLOUD_WX_API_BASE = "http://api.weixin.qq.com"
OPENAPI_MODES = ("token", "cloud")
#: production turns on the checks of `Config.check`; anything else is a typo, not development.
APP_ENVS = ("development", "production")
DEFAULT_MYSQL_DATABASE = "flask_demo"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the variable."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _integer(
    env: Mapping[str, str], name: str, default: int, minimum: int = 1, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, not {value}")
    return value


#: The longest lifetime or window taken, in seconds (366 days): a date that far
#: ahead is still one datetime and MySQL can hold; an unbounded whole number is not.
MAX_LIFETIME = 366 * 24 * 60 * 60

#: The longest timeout taken. float() also reads "nan", "inf" and 1e23, which a
#: socket refuses (ValueError, OverflowError) on every connection it would make.
MAX_SECONDS = 3600


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {raw!r}")
    if value > MAX_SECONDS:
        raise ConfigError(f"{name} must be at most {MAX_SECONDS} seconds, not {raw!r}")
    return value


#: What the console's template ids are made of (43 characters of base64url, as issued).
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _template_id(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if raw and not _TEMPLATE_ID.fullmatch(raw):
        raise ConfigError(
            f"{name} must be a template id from the console (订阅消息: letters, digits, - and _, "
            f"at most 64), not {raw!r}"
        )
    return raw


def _path(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if not raw.startswith("/") or raw.startswith("/api/") or any(c in raw for c in "<>?# "):
        raise ConfigError(f"{name} must be a path such as /wx/push, outside /api, not {raw!r}")
    return raw


#: TOKEN_SECRET values published in this repository (README, example env files,
#: compose files) or in the original template's README: anyone can read them.
PUBLISHED_SECRETS = frozenset(
    {
        "your_jwt_secret",
        "dev-only-token-secret-not-for-production",
        "change-me",
        "changeme",
        "secret",
    }
)
MIN_SECRET_BYTES = 32
#: How to get a secret that passes, said with every refusal of one (a command, not a secret).
MAKE_A_SECRET = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"  # noqa: S105
#: A random secret of 32 or more characters uses many different ones (32 random
#: hex digits show fewer than 8 of the 16 about never; fewer than 12 in 1.7% of cases)...
MIN_SECRET_DISTINCT = 8
#: ...and never repeats a run this long (for random hex that happens about
#: once in 10,000 secrets of 64 characters; base64 far less often).
SECRET_REPEAT_RUN = 8


def weakness(secret: str) -> str | None:
    """Why `secret` could be guessed, or None: length, a published value, or a visible pattern."""
    if not secret:
        return "TOKEN_SECRET is not set; production needs a random secret"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"TOKEN_SECRET is shorter than {MIN_SECRET_BYTES} bytes; use a random secret"
    if secret.strip().lower() in PUBLISHED_SECRETS:
        return "TOKEN_SECRET is an example value from the documentation"
    runs = [secret[i : i + SECRET_REPEAT_RUN] for i in range(len(secret) - SECRET_REPEAT_RUN + 1)]
    if len(set(secret)) < MIN_SECRET_DISTINCT or len(set(runs)) < len(runs):
        return (
            "TOKEN_SECRET has a visible pattern (few distinct characters or a repeated run);"
            " use a random secret"
        )
    return None


@dataclass(frozen=True)
class Config:
    """Everything the service can be told. Secrets are kept out of `repr()`."""

    app_env: str = "development"
    database_url: str | None = field(default=None, repr=False)
    mysql_address: str | None = None
    mysql_username: str = "root"
    mysql_password: str = field(default="", repr=False)
    mysql_database: str = DEFAULT_MYSQL_DATABASE
    mysql_pool_size: int = 16
    mysql_connect_timeout: int = 2
    mysql_read_timeout: float = 5.0
    mysql_write_timeout: float = 5.0
    mysql_wake_timeout: float = 8.0
    token_secret: str = field(default="", repr=False)
    wx_appid: str = ""
    wx_secret: str = field(default="", repr=False)
    wx_api_base: str = DEFAULT_WX_API_BASE
    wx_openapi_mode: str = "token"
    wx_connect_timeout: float = 3.0
    wx_read_timeout: float = 5.0
    wx_trust_cloud_headers: bool = False
    wx_push_path: str = "/wx/push"
    wx_push_trust_all: bool = False
    #: Subscribe-message (订阅消息) template ids, one setting per template the service
    #: sends (service/templates.py); empty: that notification is not sent.
    wx_template_verification_result: str = ""
    access_token_ttl: int = 2 * 60 * 60
    refresh_token_ttl: int = 7 * 24 * 60 * 60
    login_limit_per_address: int = 30
    login_limit_per_openid: int = 10
    login_limit_window: int = 60
    trusted_proxy_count: int = 0
    auto_migrate: bool = False
    max_body_bytes: int = 64 * 1024
    request_read_timeout: float = 10.0
    testing: bool = False

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def check(self) -> None:
        """Refuse settings that must never reach production.

        A token secret anyone can read lets anyone mint an admin's token, so in
        production a missing, short or published TOKEN_SECRET stops the service.
        """
        if not self.is_production:
            return
        problem = weakness(self.token_secret)
        if problem:
            raise ConfigError(f"{problem}; {MAKE_A_SECRET}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Build the configuration from environment variables.

        Empty values count as unset: Cloud Run's console and compose files
        commonly pass a variable with an empty value rather than leaving it out.
        """

        def text(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        mode = text("WX_OPENAPI_MODE", "token").lower()
        if mode not in OPENAPI_MODES:
            raise ConfigError(f"WX_OPENAPI_MODE must be token or cloud, not {mode!r}")
        app_env = text("APP_ENV", "development").lower()
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be development or production, not {app_env!r}")
        api_base = text(
            "WX_API_BASE", CLOUD_WX_API_BASE if mode == "cloud" else DEFAULT_WX_API_BASE
        ).rstrip("/")
        if not api_base.startswith(("http://", "https://")):
            raise ConfigError(
                f"WX_API_BASE must be a URL such as {DEFAULT_WX_API_BASE}, not {api_base!r}"
            )

        return cls(
            app_env=app_env,
            database_url=text("DATABASE_URL") or None,
            mysql_address=text("MYSQL_ADDRESS") or None,
            mysql_username=text("MYSQL_USERNAME", "root"),
            mysql_password=env.get("MYSQL_PASSWORD", ""),
            mysql_database=text("MYSQL_DATABASE", DEFAULT_MYSQL_DATABASE),
            mysql_pool_size=_integer(env, "MYSQL_POOL_SIZE", 16),
            mysql_connect_timeout=_integer(env, "MYSQL_CONNECT_TIMEOUT", 2, maximum=MAX_SECONDS),
            mysql_read_timeout=_seconds(env, "MYSQL_READ_TIMEOUT", 5.0),
            mysql_write_timeout=_seconds(env, "MYSQL_WRITE_TIMEOUT", 5.0),
            mysql_wake_timeout=_seconds(env, "MYSQL_WAKE_TIMEOUT", 8.0),
            token_secret=env.get("TOKEN_SECRET", ""),
            wx_appid=text("WX_APPID"),
            wx_secret=env.get("WX_SECRET", ""),
            wx_api_base=api_base,
            wx_openapi_mode=mode,
            wx_connect_timeout=_seconds(env, "WX_CONNECT_TIMEOUT", 3.0),
            wx_read_timeout=_seconds(env, "WX_READ_TIMEOUT", 5.0),
            wx_trust_cloud_headers=_flag(env, "WX_TRUST_CLOUD_HEADERS", False),
            wx_push_path=_path(env, "WX_PUSH_PATH", "/wx/push"),
            wx_push_trust_all=_flag(env, "WX_PUSH_TRUST_ALL", False),
            wx_template_verification_result=_template_id(env, "WX_TEMPLATE_VERIFICATION_RESULT"),
            access_token_ttl=_integer(env, "ACCESS_TOKEN_TTL", 2 * 60 * 60, maximum=MAX_LIFETIME),
            refresh_token_ttl=_integer(
                env, "REFRESH_TOKEN_TTL", 7 * 24 * 60 * 60, maximum=MAX_LIFETIME
            ),
            login_limit_per_address=_integer(env, "LOGIN_LIMIT_PER_ADDRESS", 30),
            login_limit_per_openid=_integer(env, "LOGIN_LIMIT_PER_OPENID", 10),
            login_limit_window=_integer(env, "LOGIN_LIMIT_WINDOW", 60, maximum=MAX_LIFETIME),
            trusted_proxy_count=_integer(env, "TRUSTED_PROXY_COUNT", 0, minimum=0),
            auto_migrate=_flag(env, "AUTO_MIGRATE", False),
            max_body_bytes=_integer(env, "MAX_BODY_BYTES", 64 * 1024),
            request_read_timeout=_seconds(env, "REQUEST_READ_TIMEOUT", 10.0),
        )


def current() -> Config:
    """The configuration of the app handling this request."""
    config: Config = current_app.config["SERVICE"]
    return config
