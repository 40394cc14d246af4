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


# bin/fleet's own commands, whose arguments belong to another tool (pytest, pulumi) or are none.
NOT_THE_PARSERS = {"test", "pulumi", "env", "help"}


def commands_named(text: str) -> list[tuple[str, str, list[str]]]:
    """Each ``fleet <command> [flags]`` (or ``bin/fleet …``) in the code of Markdown ``text`` (inline
    code and code blocks, as rendered), as (the words as written, command, flags)."""
    code = []
    for token in RENDERER.parse(text):
        if token.type in ("fence", "code_block"):
            code += token.content.splitlines()
        for child in token.children or []:
            if child.type == "code_inline":
                code.append(child.content)
    found = []
    for piece in code:
        # A command starts a line or follows a prompt, `&&`, `;` or `(`: prose in a code block does not.
        for match in re.finditer(r"(?:^\s*|\$\s+|&&\s+|;\s+|\()(?:bin/)?fleet\s+([a-z][a-z-]*)([^|;&`#\n]*)", piece):
            flags = [word.split("=", 1)[0] for word in match[2].split() if re.fullmatch(r"--?[a-z][a-z-]*(=.*)?", word)]
            found.append((match[0].strip(), match[1], flags))
    return found


def unknown_commands_and_flags(text: str) -> list[str]:
    """Each command or flag ``commands_named`` finds that the ``fleet`` parser does not have."""
    from openclaw_fleet.cli.options import parser

    subparsers = next(action for action in parser()._actions if action.dest == "command").choices
    problems = []
    for words, command, flags in commands_named(text):
        if command in NOT_THE_PARSERS:
            continue
        if command not in subparsers:
            problems.append(f"`{words}`: no command {command}")
            continue
        known = subparsers[command]._option_string_actions
        problems += [f"`{words}`: {command} has no {flag}" for flag in flags if flag not in known]
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_fleet_command_and_flag_the_docs_name_exists(path):
    assert unknown_commands_and_flags(path.read_text()) == []


def test_a_flag_that_does_not_exist_is_found():
    text = "Run `bin/fleet up --refresh --no-such-flag` or\n\n```\nfleet frobnicate -s prod\n```\n"
    assert unknown_commands_and_flags(text) == [
        "`bin/fleet up --refresh --no-such-flag`: up has no --no-such-flag",
        "`fleet frobnicate -s prod`: no command frobnicate",
    ]
