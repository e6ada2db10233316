"""The rule, kept from the original template, for when real WeChat calls may run.

Tests marked `wechat` call the real API. They skip, saying why, while
`WX_APPID` or `WX_SECRET` is empty or contains "test" (the placeholder
values in example files and CI), unless `USE_REAL_WECHAT_CREDENTIALS=true`
says the values are real despite their look.
"""

from __future__ import annotations

from collections.abc import Mapping


def missing_real_credentials(env: Mapping[str, str]) -> str | None:
    """Why the real API cannot be called with these settings, or None when it can."""
    appid = env.get("WX_APPID", "").strip()
    secret = env.get("WX_SECRET", "").strip()
    empty = [name for name, value in (("WX_APPID", appid), ("WX_SECRET", secret)) if not value]
    if empty:
        return f"{' and '.join(empty)} not set"
    if env.get("USE_REAL_WECHAT_CREDENTIALS", "").strip().lower() == "true":
        return None
    test_like = [n for n, v in (("WX_APPID", appid), ("WX_SECRET", secret)) if "test" in v.lower()]
    if test_like:
        names = " and ".join(test_like)
        return f"{names} contain 'test' (USE_REAL_WECHAT_CREDENTIALS=true if real)"
    return None
