"""WeChat's rules for subscribe-message keyword values, so that a send never earns 47003.

A template's keywords are named after their type and a number (`thing2`,
`phrase1`, `time4`), and WeChat refuses the whole message (47003, "argument
invalid! data.thing2.value") when one value breaks its type's rule. The rules,
from WeChat's table for subscribeMessage.send (订阅消息参数值内容限制说明):

| type | rule |
|---|---|
| thing | 20 characters or fewer: Chinese, digits, letters, symbols |
| phrase | 5 Chinese characters or fewer, nothing else |
| name | 10 Chinese characters or fewer, or 20 letters and symbols; mixed counts as Chinese |
| letter | 32 letters or fewer |
| symbol | 5 symbols or fewer |
| character_string | 32 digits, letters and symbols or fewer |
| number | 32 digits or fewer, a decimal point allowed |
| amount | a currency sign, 10 digits or fewer, decimals, 元 at the end allowed |
| phone_number | 17 digits and symbols or fewer |
| car_number | 8 characters or fewer; Chinese only first and last, else letters and digits |
| time, date | 15:01, 2019年10月1日, 2019年10月1日 15:01, or two of them joined by ~ |

Free text (thing, phrase, name, letter, symbol, character_string) is cleaned
and cut to fit: what a person wrote must not cost the message. A value with a
meaning of its own (a number, an amount, a time, a phone or car number) is
never cut, since a shortened one would be wrong: one that does not fit is a
bug in the code that built it, and raises `Unfit`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

#: China Standard Time, the time people reading these messages live in (no daylight saving).
CHINA = timezone(timedelta(hours=8))
#: CJK ideographs: the unified block, extension A, and the compatibility block.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{HAN}]")
_KEYWORD = re.compile(r"([a-z_]+?)(\d+)")
#: ASCII's printable symbols (neither letters nor digits nor space).
_SYMBOLS = "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum())
ELLIPSIS = "…"

_CLOCK = r"\d{1,2}:\d{2}"
_DAY = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})"
_WHEN = {
    "time": rf"(?:{_DAY} )?{_CLOCK}",
    "date": rf"{_DAY}(?: {_CLOCK})?",
}
#: Types whose value must already be right: (longest, the whole value's pattern).
STRICT: dict[str, tuple[int, re.Pattern[str]]] = {
    "number": (32, re.compile(r"\d+(?:\.\d+)?")),
    "amount": (16, re.compile(r"[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?")),
    "phone_number": (17, re.compile(r"[0-9+\-()]+")),
    "car_number": (8, re.compile(f"[{HAN}]?[A-Z0-9]+[{HAN}]?")),
    "time": (64, re.compile(f"{_WHEN['time']}(?:~{_WHEN['time']})?")),
    "date": (64, re.compile(f"{_WHEN['date']}(?:~{_WHEN['date']})?")),
}
#: Free-text types: (longest, which characters it keeps).
LOOSE: dict[str, tuple[int, re.Pattern[str]]] = {
    "phrase": (5, re.compile(f"[{HAN}]")),
    "letter": (32, re.compile(r"[A-Za-z]")),
    "symbol": (5, re.compile(f"[{re.escape(_SYMBOLS)}]")),
    "character_string": (32, re.compile(r"[\x21-\x7e]")),
    "name": (20, re.compile(f"[{HAN}A-Za-z·. -]")),
}
KINDS = frozenset({"thing", *STRICT, *LOOSE})


class Unfit(ValueError):
    """A value its keyword's type cannot take, and that cutting would make wrong."""


def kind_of(keyword: str) -> str:
    """The type a keyword's name says (`thing2` is a thing); ValueError for a name WeChat
    would not give."""
    match = _KEYWORD.fullmatch(keyword)
    if match is None or match.group(1) not in KINDS:
        raise ValueError(f"{keyword!r} is not a keyword name such as thing1 or phrase2")
    return match.group(1)


def _plain(value: str) -> str:
    """One line of text: no control or format characters, nothing outside the BMP (emoji,
    which WeChat's checks count unpredictably), runs of white space made one space."""
    kept = "".join(
        c
        for c in value
        if c.isspace()
        or (ord(c) <= 0xFFFF and unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    )
    return " ".join(kept.split())


def _thing(value: str) -> str:
    text = _plain(value)
    return text if len(text) <= 20 else text[:19] + ELLIPSIS


def _name(value: str) -> str:
    text = " ".join("".join(LOOSE["name"][1].findall(_plain(value))).split())
    limit = 10 if _HAN.search(text) else 20
    return text[:limit].strip()


def fit(keyword: str, value: str) -> str:
    """`value` as `keyword`'s type lets WeChat take it: free text cleaned and cut, anything
    else checked. May be empty (nothing of the free text fits): the caller chooses a stand-in.
    """
    kind = kind_of(keyword)
    if kind == "thing":
        return _thing(value)
    if kind == "name":
        return _name(value)
    if kind in LOOSE:
        limit, keeps = LOOSE[kind]
        return "".join(keeps.findall(value))[:limit]
    limit, whole = STRICT[kind]
    text = value.strip()
    if len(text) > limit or not whole.fullmatch(text):
        raise Unfit(f"{keyword}: {text!r} is not a {kind} WeChat takes")
    return text


def wechat_time(moment: datetime) -> str:
    """A naive UTC time as WeChat's `time` keywords show it, in China's time: 2025年1月2日 15:04."""
    local = moment.replace(tzinfo=UTC).astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour:02d}:{local.minute:02d}"
