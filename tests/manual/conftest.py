"""Manual mode: the real WeChat API, with real credentials, only when asked for.

Without real credentials (absent, or test values) every test here is skipped,
with the reason printed, and the run succeeds: tests/plugins/run.py applies the
rule of tests/support/wechat_credentials.py to every test marked `wechat`.
"""

from __future__ import annotations

from tests.support.envfiles import load_mode

load_mode("manual")
