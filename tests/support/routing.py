"""Werkzeug's URL builders, compiled once per rule shape for the whole test run.

Each time an app is built, Werkzeug turns every URL rule into two Python
functions by generating and compiling code (`Rule._compile_builder`). The
suite builds a new app for most tests, about 400 per run, and this was its
largest single cost: 15% of the unit suite's CPU. The generated code depends
only on the rule's text and parsed parts (and defaults, which our rules do not
have), and takes the rule as its first argument, so identical rules can share
one compiled function. Production builds its app once per process and is not
touched: only the test process installs this.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.routing import rules

Builder = Callable[..., tuple[str, str]]
_compiled: dict[tuple[str, tuple[tuple[bool, str], ...], bool], Builder] = {}


def install() -> None:
    """Memoize `Rule._compile_builder` for rules without defaults; fail loudly if it moved."""
    original: Callable[[rules.Rule, bool], Builder] = rules.Rule._compile_builder

    def compile_builder(rule: rules.Rule, append_unknown: bool = True) -> Builder:
        if rule.defaults:
            return original(rule, append_unknown)
        key = (rule.rule, tuple(rule._trace), append_unknown)
        builder = _compiled.get(key)
        if builder is None:
            builder = _compiled[key] = original(rule, append_unknown)
        return builder

    compile_builder.__wrapped__ = original  # type: ignore[attr-defined]
    if not hasattr(original, "__wrapped__"):
        rules.Rule._compile_builder = compile_builder  # type: ignore[method-assign,assignment]
