"""The WeChat client against the protocol-level fake: every answer maps as documented."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from service.config import Config
from service.errors import ApiError
from service.wechat import WeChatClient
from tests.support.fake_wechat import FakeWeChat
from tests.support.net import free_port


@pytest.fixture
def client(config: Config) -> WeChatClient:
    return WeChatClient(config)


def error_of(call: object, *args: object) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.kind.status, caught.value.kind.key


def test_a_registered_code_yields_openid_unionid_and_a_session_key(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    code = fake_wechat.login_code("oUser1", unionid="uUnion1")
    session = client.code2session(code)
    assert (session.openid, session.unionid) == ("oUser1", "uUnion1")
    assert session.session_key == fake_wechat.issued_session_keys[-1]
    assert session.session_key not in repr(session)


def test_unionid_is_absent_when_not_bound(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    assert client.code2session(fake_wechat.login_code("oUser2")).unionid is None


def test_unknown_code_is_invalid_code(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    assert error_of(client.code2session, "never-issued") == (400, "invalid_code")


def test_reused_code_is_invalid_code(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    code = fake_wechat.login_code()
    client.code2session(code)
    assert error_of(client.code2session, code) == (400, "invalid_code")


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (45011, (429, "wechat_rate_limited")),
        (40226, (403, "wechat_risky_user")),
        (-1, (502, "wechat_unavailable")),
        (40013, (502, "wechat_error")),
        (61024, (502, "wechat_error")),
    ],
)
def test_wechat_errcodes_map_to_statuses(
    client: WeChatClient, fake_wechat: FakeWeChat, errcode: int, expected: tuple[int, str]
) -> None:
    code = fake_wechat.login_code(errcode=errcode)
    assert error_of(client.code2session, code) == expected


def test_busy_is_retried_once(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    code = fake_wechat.login_code(errcode=-1)
    error_of(client.code2session, code)
    assert fake_wechat.calls["/sns/jscode2session"] == 2


def test_other_errors_are_not_retried(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    error_of(client.code2session, fake_wechat.login_code(errcode=45011))
    assert fake_wechat.calls["/sns/jscode2session"] == 1


def test_a_stall_past_the_read_timeout_is_unavailable_after_one_retry(
    config: Config, fake_wechat: FakeWeChat
) -> None:
    client = WeChatClient(replace(config, wx_read_timeout=0.3))  # two waits of 0.3 s, not 1 s
    code = fake_wechat.login_code(stall=client.timeout[1] + 0.3)
    assert error_of(client.code2session, code) == (502, "wechat_unavailable")
    assert fake_wechat.calls["/sns/jscode2session"] == 2


def test_connection_refused_is_unavailable(config: Config) -> None:
    client = WeChatClient(replace(config, wx_api_base=f"http://127.0.0.1:{free_port()}"))
    assert error_of(client.code2session, "any") == (502, "wechat_unavailable")


def test_wrong_secret_is_a_wechat_error(config: Config, fake_wechat: FakeWeChat) -> None:
    client = WeChatClient(replace(config, wx_secret="not-the-secret"))
    assert error_of(client.code2session, fake_wechat.login_code()) == (502, "wechat_error")


def test_tls_verification_is_on(client: WeChatClient) -> None:
    assert client.http.verify is True


def test_access_token_is_fetched_once_and_cached(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    first = client.access_token()
    assert all(client.access_token() == first for _ in range(20))
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


def test_one_thread_refreshes_the_access_token(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    start = threading.Barrier(16)

    def fetch(_: int) -> str:
        start.wait()
        return client.access_token()

    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = set(pool.map(fetch, range(16)))
    assert len(tokens) == 1
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1


def test_access_token_is_replaced_five_minutes_before_expiry(
    config: Config, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.token_ttl = 300  # WeChat's minimum: within the 5-minute margin at once
    try:
        client = WeChatClient(config)
        client.access_token()
        client.access_token()
    finally:
        fake_wechat.token_ttl = 7200
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 2


def test_phone_number_uses_the_cached_access_token(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    numbers = [client.phone_number(fake_wechat.phone_code(f"+8613800000{n:03}")) for n in range(5)]
    assert [n.pure_phone_number for n in numbers] == [f"13800000{n:03}" for n in range(5)]
    assert numbers[0].country_code == "86"
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 1
    assert fake_wechat.calls["/wxa/business/getuserphonenumber"] == 5


def test_a_revoked_access_token_is_replaced_once(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    client.access_token()
    fake_wechat.revoke_tokens()
    number = client.phone_number(fake_wechat.phone_code("+8613900000000"))
    assert number.phone_number == "+8613900000000"
    assert fake_wechat.calls["/cgi-bin/stable_token"] == 2


def test_unknown_phone_code_is_invalid_code(client: WeChatClient, fake_wechat: FakeWeChat) -> None:
    assert error_of(client.phone_number, "no-such-code") == (400, "invalid_code")


CODE2SESSION = "/sns/jscode2session"


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (502, "text/html", "<html><body>502 Bad Gateway</body></html>"),
        (503, "application/json", '{"errcode": 0}'),
        (200, "text/html", "<html>maintenance</html>"),
        (200, "application/json", '["not", "an", "object"]'),
    ],
    ids=["5xx-page", "5xx-json", "200-html", "200-json-array"],
)
def test_what_a_gateway_sends_instead_of_wechat_is_unavailable_after_one_retry(
    client: WeChatClient,
    fake_wechat: FakeWeChat,
    caplog: pytest.LogCaptureFixture,
    status: int,
    content_type: str,
    body: str,
) -> None:
    fake_wechat.interpose(CODE2SESSION, body, status=status, content_type=content_type, times=2)
    assert error_of(client.code2session, fake_wechat.login_code()) == (502, "wechat_unavailable")
    assert fake_wechat.calls[CODE2SESSION] == 2
    assert body not in caplog.text  # the reason is logged, not what the gateway said


def test_a_gateway_error_then_wechat_answering_logs_in(
    client: WeChatClient, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.interpose(CODE2SESSION, "<html>502</html>", status=502, content_type="text/html")
    assert client.code2session(fake_wechat.login_code("oAfterGateway")).openid == "oAfterGateway"
    assert fake_wechat.calls[CODE2SESSION] == 2


def test_a_code_our_timed_out_first_attempt_used_is_wechats_fault_not_the_clients(
    config: Config, fake_wechat: FakeWeChat
) -> None:
    """The first attempt reached WeChat and used the code; the retry hears "code been used"."""
    client = WeChatClient(replace(config, wx_read_timeout=0.3))
    code = fake_wechat.login_code(stall=client.timeout[1] + 0.3, stall_once=True)
    assert error_of(client.code2session, code) == (502, "wechat_unavailable")
    assert fake_wechat.calls[CODE2SESSION] == 2


@pytest.mark.parametrize(
    "body",
    ['{"errcode": 0, "errmsg": "ok"}', '{"access_token": 7, "expires_in": 7200}'],
    ids=["no-token", "token-not-text"],
)
def test_a_stable_token_answer_without_a_usable_token_is_a_wechat_error(
    client: WeChatClient, fake_wechat: FakeWeChat, body: str
) -> None:
    fake_wechat.interpose("/cgi-bin/stable_token", body)
    assert error_of(client.access_token) == (502, "wechat_error")
    assert client.access_token().startswith("token-")  # nothing bad was kept


@pytest.mark.parametrize(
    "body",
    [
        '{"errcode": 0, "errmsg": "ok"}',
        '{"errcode": 0, "phone_info": "13800000000"}',
        '{"errcode": 0, "phone_info": {"phoneNumber": 13800000000}}',
        '{"errcode": 40999, "phone_info": {"phoneNumber": "13800000000"}}',
    ],
    ids=["no-phone-info", "phone-info-not-object", "number-not-text", "unknown-errcode"],
)
def test_a_phone_answer_without_a_number_is_a_wechat_error(
    client: WeChatClient, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    fake_wechat.interpose("/wxa/business/getuserphonenumber", body)
    assert error_of(client.phone_number, "any-code") == (502, "wechat_error")
    assert "13800000000" not in caplog.text
