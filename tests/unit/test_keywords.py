"""Subscribe-message keyword values fitted to WeChat's rules, so 47003 is never earned.

The fake WeChat checks values against WeChat's table with code of its own
(tests/support/fake_wechat.py); what `fit` makes must pass that check.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.keywords import ELLIPSIS, Unfit, fit, kind_of, wechat_time
from service.models import User, VerificationStatus
from service.templates import TEMPLATES, verification_result
from tests.support.fake_wechat import keyword_refusal

FREE_TEXT = ["thing1", "phrase2", "name3", "letter4", "symbol5", "character_string6"]


def accepted_by_wechat(keyword: str, value: str) -> bool:
    return keyword_refusal({keyword: {"value": value}}) is None


@pytest.mark.parametrize(
    ("keyword", "value", "fitted"),
    [
        ("thing1", "社区工作者认证", "社区工作者认证"),
        ("thing1", "材料" * 10, "材料" * 10),  # 20: at the limit, kept whole
        ("thing1", "材料" * 10 + "齐", "材料" * 9 + "材" + ELLIPSIS),  # 21: cut, and says so
        ("thing1", "  第一行\n\t第二行  ", "第一行 第二行"),
        ("thing1", "通过\x00\u200b😀", "通过"),  # control, format, and an emoji dropped
        ("phrase2", "已通过", "已通过"),
        ("phrase2", "审核已通过了吧", "审核已通过"),  # at most 5
        ("phrase2", "OK通过1", "通过"),  # Chinese only
        ("name3", "张三", "张三"),
        ("name3", "欧阳" * 6, "欧阳" * 5),  # Chinese: 10
        ("name3", "Alexander Hamilton Junior", "Alexander Hamilton J"),  # letters: 20
        ("name3", "Li 小龙 2", "Li 小龙"),  # mixed counts as Chinese; digits dropped
        ("letter4", "ab-12cD", "abcD"),
        ("symbol5", "a!@#$%^&", "!@#$%"),
        ("character_string6", "订单 NO.2024-0001 ", "NO.2024-0001"),
        ("character_string6", "x" * 40, "x" * 32),
    ],
)
def test_free_text_is_cleaned_and_cut_to_what_wechat_takes(
    keyword: str, value: str, fitted: str
) -> None:
    assert fit(keyword, value) == fitted
    assert accepted_by_wechat(keyword, fitted)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("number1", "3.14"),
        ("amount2", "¥100.50元"),
        ("phone_number3", "+86-0766-66888866"),
        ("car_number4", "粤A8Z888挂"),
        ("time5", "15:01"),
        ("time5", "2019年10月1日 15:01"),
        ("date6", "2019年10月1日"),
        ("date6", "2019年10月1日 15:01~2019年10月2日 15:01"),
    ],
)
def test_values_with_a_meaning_pass_when_right(keyword: str, value: str) -> None:
    assert fit(keyword, value) == value
    assert accepted_by_wechat(keyword, value)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("number1", "1" * 33),
        ("number1", "12a"),
        ("amount2", "¥12345678901"),
        ("phone_number3", "1" * 18),
        ("car_number4", "粤A8Z888挂12"),
        ("time5", "3 pm"),
        ("date6", "yesterday"),
    ],
)
def test_values_with_a_meaning_are_never_cut(keyword: str, value: str) -> None:
    """A shortened number or time would be wrong: the code that built it is."""
    with pytest.raises(Unfit, match=keyword):
        fit(keyword, value)
    assert not accepted_by_wechat(keyword, value)


@given(keyword=st.sampled_from(FREE_TEXT), value=st.text(max_size=80))
def test_whatever_a_person_wrote_fits_or_comes_out_empty(keyword: str, value: str) -> None:
    fitted = fit(keyword, value)
    assert fitted == "" or accepted_by_wechat(keyword, fitted), (keyword, value, fitted)


@pytest.mark.parametrize("name", ["thing", "1thing", "thing1a", "color2", "Thing1"])
def test_a_keyword_name_must_say_its_type(name: str) -> None:
    with pytest.raises(ValueError, match="keyword name"):
        kind_of(name)


def test_times_are_shown_in_chinas_time() -> None:
    assert wechat_time(datetime(2025, 1, 1, 16, 5)) == "2025年1月2日 00:05"


@pytest.mark.parametrize("decision", [VerificationStatus.APPROVED, VerificationStatus.REJECTED])
def test_the_verification_result_always_fits_its_template(decision: VerificationStatus) -> None:
    note = "材料不全，请补充工作证明和社区盖章的介绍信后重新提交申请\n谢谢😀"
    user = User(
        verification_status=int(decision), review_note=note, reviewed_at=datetime(2025, 3, 1)
    )
    data = verification_result(user)
    assert keyword_refusal(data) is None
    assert data["phrase2"]["value"] == (
        "已通过" if decision == VerificationStatus.APPROVED else "未通过"
    )
    assert data["thing3"]["value"].endswith(ELLIPSIS)
    assert data["time4"]["value"] == "2025年3月1日 08:00"
    assert verification_result(User(verification_status=2))["thing3"] == {"value": "无"}


def test_every_template_declares_keywords_wechat_knows() -> None:
    for template in TEMPLATES:
        assert template.keywords
        for keyword in template.keywords:
            kind_of(keyword)
