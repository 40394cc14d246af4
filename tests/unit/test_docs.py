"""Every Markdown file of the repository, rendered as GitHub renders it (CommonMark with GFM
tables, markdown-it-py): each table renders as a table, and each relative link reaches a file of
the repository and, with an anchor, a heading in it."""

import re
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
RENDERER = MarkdownIt("commonmark").enable("table")
FILES = sorted(
    ROOT / name
    for name in subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not name.startswith("tests/integration/act_standins/")  # not documentation
) or sorted(ROOT.glob("**/*.md"))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    tokens = RENDERER.parse(path.read_text())
    return {slug(tokens[i + 1].content) for i, token in enumerate(tokens) if token.type == "heading_open"}


def test_the_readme_is_a_first_screen():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_tables_render_and_relative_links_resolve(path):
    tokens = RENDERER.parse(path.read_text())
    for token in tokens:
        if token.type == "inline" and re.search(r"^\|[\s:|-]+\|$", token.content, re.M):
            pytest.fail(f"{path.name}:{token.map[0] + 1}: a table that renders as text (cells and delimiters differ)")
    links = [
        child.attrs.get("href") or child.attrs.get("src")
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type in ("link_open", "image")
    ]
    for link in links:
        if re.match(r"^[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        assert resolved.exists(), f"{path.name}: link {link} reaches no file"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{path.name}: link {link}: no such heading in {resolved.name}"


def test_every_test_the_exit_status_table_names_exists():
    table = (ROOT / "docs" / "operating.md").read_text().split("### Exit status", 1)[1].split("\n\n#", 1)[0]
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", table)
    assert {row.split("|")[1].strip() for row in table.splitlines() if row.startswith("| ") and "::" in row} == {
        "0", "1", "2", "3"
    }  # fmt: skip
    missing = [f"{path}::{name}" for path, name in named if f"def {name}(" not in (ROOT / path).read_text()]
    assert named and missing == []
