"""The subscribe-message templates this service sends, and what each one says.

A template is chosen in the console (小程序管理后台 → 订阅消息) from WeChat's
library; its id goes into an environment variable, and its keywords are
declared here. The keyword names must be those of the chosen template (the
console shows them, e.g. `thing1`, `phrase2`): change them here to match
yours. A template whose variable is empty is not sent, and its notifications
are not written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.config import Config
from service.keywords import fit, kind_of, wechat_time
from service.models import User, VerificationStatus, utcnow


@dataclass(frozen=True)
class Template:
    #: What the notification is about; stored with each one (`kind`).
    name: str
    #: The environment variable holding its template id (for messages to people).
    variable: str
    setting: Callable[[Config], str]
    #: Keyword -> the value used when the real one is empty once cleaned.
    keywords: Mapping[str, str]
    #: The page a tap on the message opens; None: the message opens nothing.
    page: str | None = None

    def template_id(self, config: Config) -> str:
        return self.setting(config)

    def data(self, values: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """WeChat's `data` object, each value fitted to its keyword's rules."""
        if set(values) != set(self.keywords):
            raise ValueError(f"{self.name} takes the keywords {sorted(self.keywords)}")
        data = {}
        for keyword, stand_in in self.keywords.items():
            value = fit(keyword, values[keyword]) or fit(keyword, stand_in)
            data[keyword] = {"value": value}
        return data


VERIFICATION_RESULT = Template(
    name="verification_result",
    variable="WX_TEMPLATE_VERIFICATION_RESULT",
    setting=lambda config: config.wx_template_verification_result,
    keywords={
        "thing1": "社区工作者认证",  # 申请事项
        "phrase2": "已处理",  # 审核结果
        "thing3": "无",  # 备注
        "time4": "",  # 审核时间 (always given: a time is never cut, so needs no stand-in)
    },
)

TEMPLATES = (VERIFICATION_RESULT,)
for _template in TEMPLATES:  # a misspelt keyword fails at import, not at the first send
    for _keyword in _template.keywords:
        kind_of(_keyword)


def configured(config: Config) -> dict[str, Template]:
    """Template id -> template, for the templates this deployment has an id for."""
    return {t.template_id(config): t for t in TEMPLATES if t.template_id(config)}


def verification_result(user: User) -> dict[str, Any]:
    """What the applicant is told of the review just written to `user`."""
    approved = int(user.verification_status) == VerificationStatus.APPROVED
    return VERIFICATION_RESULT.data(
        {
            "thing1": "社区工作者认证",
            "phrase2": "已通过" if approved else "未通过",
            "thing3": user.review_note or "",
            "time4": wechat_time(user.reviewed_at or utcnow()),
        }
    )
