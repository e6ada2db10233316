"""The harness's shared URL builders (tests/support/routing.py) build what Werkzeug's own do."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Map, Rule, rules

from tests.support import routing


def every_url(url_map: Map) -> list[tuple[str, str]]:
    """Each rule's URL with sample values, and with an unknown argument appended."""
    adapter = url_map.bind("svc.example")
    built = []
    for rule in url_map.iter_rules():
        values = dict.fromkeys(rule.arguments, 7)
        unknown = {**values, "q": "中 文"}
        built.append((adapter.build(rule.endpoint, values), adapter.build(rule.endpoint, unknown)))
    return built


def test_the_shared_builders_build_exactly_what_fresh_ones_do(app: Flask) -> None:
    original = rules.Rule._compile_builder.__wrapped__  # type: ignore[attr-defined]
    fresh = Map(
        [Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for r in app.url_map.iter_rules()]
    )
    for rule in fresh.iter_rules():  # compiled again by Werkzeug's own code, unshared
        rule._build = original(rule, False).__get__(rule, None)
        rule._build_unknown = original(rule, True).__get__(rule, None)
    shared = every_url(app.url_map)
    assert shared == every_url(fresh)
    assert ("/api/admin/users/7", "/api/admin/users/7?q=%E4%B8%AD+%E6%96%87") in shared


def test_rules_of_one_shape_share_a_builder_and_others_do_not() -> None:
    routing.install()  # a second install changes nothing
    first, second, other = Rule("/a/<int:x>"), Rule("/a/<int:x>"), Rule("/b/<int:x>")
    for rule in (first, second, other):
        Map([rule])  # binding compiles the rule
    assert first._build.__func__ is second._build.__func__
    assert first._build.__func__ is not other._build.__func__
    assert first._build_unknown.__func__ is not first._build.__func__
