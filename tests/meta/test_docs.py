"""The README and docs/ stay true: every relative link resolves, and the tables match the code.

A reader who follows a broken link, or finds a setting the table does not name,
stops trusting the rest; these checks fail when code and docs part ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from service.errors import ALL_KINDS
from tests.support.settings import variables_the_config_reads

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`]*`")


def prose(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks, where links and headings mean something."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation dropped,
    each space a hyphen (so `nox -s` gives `nox--s`)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Each relative link in `path` whose file or #anchor does not exist, as `target: why`."""
    problems = []
    for line in prose(path.read_text(encoding="utf-8")):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if root not in resolved.parents and resolved != root:
                problems.append(f"{target}: outside the repository")
            elif not resolved.exists():
                problems.append(f"{target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{target}: no heading with that anchor in {resolved.name}")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## Where it is\n\n[ok](#where-it-is) [gone](#elsewhere) "
        "[missing](nowhere.md) [away](../../etc/hosts) `[quoted](x.md)`\n"
        "```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "#elsewhere: no heading with that anchor in page.md",
        "nowhere.md: no such file",
        "../../etc/hosts: outside the repository",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Scaling choices in `container.config.json`", "scaling-choices-in-containerconfigjson"),
        ("Reaching Cloud Run's MySQL", "reaching-cloud-runs-mysql"),
        ("Calling WeChat: `token` or `cloud` mode", "calling-wechat-token-or-cloud-mode"),
        ("The request path (`nox -s bench`, with x)", "the-request-path-nox--s-bench-with-x"),
        ("Administration (role 9)", "administration-role-9"),
        ("Message push (消息推送)", "message-push-消息推送"),
        ("Fuzzing, abuse and outages", "fuzzing-abuse-and-outages"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def section(path: Path, title: str) -> list[str]:
    """The prose lines under the heading `title`, up to the next heading as high or higher."""
    lines = list(prose(path.read_text(encoding="utf-8")))
    for start, line in enumerate(lines):
        match = HEADING.match(line)
        if match and match.group(2) == title:
            level = len(match.group(1))
            body = []
            for rest in lines[start + 1 :]:
                nested = HEADING.match(rest)
                if nested and len(nested.group(1)) <= level:
                    break
                body.append(rest)
            return body
    raise AssertionError(f"{path.name} has no heading {title!r}")


def table_rows(lines: list[str]) -> list[list[str]]:
    """The cells of each table row (header and separator rows left out)."""
    rows = []
    for line in lines:
        if not line.startswith("|") or re.match(r"^\|[\s|:-]+\|$", line):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return rows[1:] if rows else rows  # the first row is the header


def test_the_error_key_table_is_every_error_kind_with_its_status() -> None:
    rows = table_rows(section(ROOT / "docs" / "api.md", "Error keys"))
    documented = {(int(status), key.strip("`")) for status, key, *_ in rows}
    assert documented == {(kind.status, kind.key) for kind in ALL_KINDS}


def test_the_configuration_table_names_every_variable_the_service_reads() -> None:
    asked = variables_the_config_reads()
    assert asked  # the recording works
    rows = table_rows(section(README, "Configuration"))
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}
    assert documented == asked


def test_every_variable_gunicorn_conf_reads_is_named_in_the_configuration_section() -> None:
    read = set(
        re.findall(r"environ\.get\(\s*\"([A-Z_]+)\"", (ROOT / "gunicorn.conf.py").read_text())
    )
    assert "WEB_CONCURRENCY" in read  # the scan works
    text = "\n".join(section(README, "Configuration"))
    assert {name for name in read if f"`{name}`" not in text} == set()


def test_the_readme_route_table_is_the_apps_url_map(app: Flask) -> None:
    rows = table_rows(section(README, "The API"))
    documented = {
        (method.strip(), re.sub(r"<[^>]*>", "<>", path.strip("`")))
        for methods, path, *_ in rows
        if path.startswith("`/")
        for method in methods.split(",")
    }
    served = {
        (method, re.sub(r"<[^>]*>", "<>", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert documented == served


def test_the_readme_stays_a_guide() -> None:
    """At most 300 lines, and no dated figures: measurements belong in bench/RESULTS.md."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert re.findall(r"\b20\d\d-\d\d-\d\d\b", text) == []
