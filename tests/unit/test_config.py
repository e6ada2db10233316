"""Reading settings from the environment."""

from __future__ import annotations

import pytest

from service.config import Config, ConfigError


def test_defaults_match_the_original_template() -> None:
    config = Config.from_env({})
    assert config.mysql_username == "root"
    assert config.mysql_database == "flask_demo"
    assert config.wx_api_base == "https://api.weixin.qq.com"
    assert config.database_url is None
    assert config.mysql_address is None
    assert config.app_env == "development"
    assert config.auto_migrate is False
    assert config.max_body_bytes == 64 * 1024


def test_every_variable_is_read() -> None:
    config = Config.from_env(
        {
            "APP_ENV": "Production",
            "DATABASE_URL": "mysql://u:p@db:3307/x",
            "MYSQL_ADDRESS": "10.0.0.1:3306",
            "MYSQL_USERNAME": "app",
            "MYSQL_PASSWORD": " spaced ",
            "MYSQL_DATABASE": "other",
            "MYSQL_POOL_SIZE": "4",
            "MYSQL_CONNECT_TIMEOUT": "3",
            "TOKEN_SECRET": "s" * 40,
            "WX_APPID": "wx123",
            "WX_SECRET": "sec",
            "WX_API_BASE": "http://127.0.0.1:9/",
            "AUTO_MIGRATE": "true",
            "MAX_BODY_BYTES": "1024",
        }
    )
    assert config.is_production
    assert config.database_url == "mysql://u:p@db:3307/x"
    assert config.mysql_address == "10.0.0.1:3306"
    assert config.mysql_username == "app"
    assert config.mysql_password == " spaced "  # passwords are taken verbatim
    assert config.mysql_database == "other"
    assert config.mysql_pool_size == 4
    assert config.mysql_connect_timeout == 3
    assert config.token_secret == "s" * 40
    assert (config.wx_appid, config.wx_secret) == ("wx123", "sec")
    assert config.wx_api_base == "http://127.0.0.1:9"
    assert config.auto_migrate is True
    assert config.max_body_bytes == 1024


def test_empty_values_count_as_unset() -> None:
    config = Config.from_env({"MYSQL_ADDRESS": "", "MYSQL_USERNAME": "", "DATABASE_URL": "  "})
    assert config.mysql_address is None
    assert config.mysql_username == "root"
    assert config.database_url is None


def test_secrets_stay_out_of_repr() -> None:
    config = Config.from_env(
        {
            "MYSQL_PASSWORD": "pw-visible?",
            "TOKEN_SECRET": "tok-visible?",
            "WX_SECRET": "wx-visible?",
            "DATABASE_URL": "mysql://u:url-visible?@h/d",
        }
    )
    text = repr(config)
    for secret in ("pw-visible?", "tok-visible?", "wx-visible?", "url-visible?"):
        assert secret not in text


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AUTO_MIGRATE": "maybe"}, "AUTO_MIGRATE"),
        ({"MYSQL_POOL_SIZE": "many"}, "MYSQL_POOL_SIZE"),
        ({"MYSQL_POOL_SIZE": "0"}, "MYSQL_POOL_SIZE"),
        ({"MAX_BODY_BYTES": "-1"}, "MAX_BODY_BYTES"),
        ({"MYSQL_READ_TIMEOUT": "soon"}, "MYSQL_READ_TIMEOUT"),
        ({"WX_READ_TIMEOUT": "5s"}, "WX_READ_TIMEOUT"),
        ({"MYSQL_WAKE_TIMEOUT": "0"}, "MYSQL_WAKE_TIMEOUT"),
    ],
)
def test_unusable_values_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Config.from_env(env)
