"""The plan comment as a reviewer's browser shows it: rendered by a CommonMark renderer with GFM
tables (markdown-it-py), hostile names keep every user's row and every data-loss line, and make
no HTML, comment, link, image or mention."""

import json
import re
import subprocess
import sys
from dataclasses import replace

from markdown_it import MarkdownIt

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.comment import COMMENT_LIMIT, escape, markdown
from openclaw_fleet.cli.review import build_review
from openclaw_fleet.cost import FlyPrices
from tests.unit.users import user

HOSTILE = [
    "Mallory\r<!--",
    "@team please approve",
    "[click](http://evil.example/x)",
    "``` `code` ```",
    '<img src=x onerror="alert(1)">',
    "x" * 10_000,
    "| a | b |\n| --- | --- |",
    "**bold** _it_ ~~gone~~ # head",
    "www.evil.example and https://evil.example",
]
RENDER = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def hostile_review(count: int = len(HOSTILE)):
    before = [user(id=f"user_{index}", name="Before") for index in range(count)]
    now = [user(id=f"user_{index}", name=HOSTILE[index % len(HOSTILE)], region="ams") for index in range(count)]
    plan = ChangesByUser({})
    for index in range(count):
        plan.users[f"user_{index}"].changes["replace"].append("Volume (region)")
        plan.users[f"user_{index}"].data_loss.append(f"Fly volume replaced (region) {HOSTILE[index % len(HOSTILE)]}")
    previous = {u.id: {"name": u.id, **u.recorded("fly", 1)} for u in before}
    return build_review("prod", 1, previous, now, "fly", 1, plan, FlyPrices.load())


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_hostile_names_keep_every_row_and_every_data_loss_line():
    review = hostile_review()
    html = RENDER.render(markdown(review))
    found = rows(html)
    assert len(found) == len(HOSTILE)
    for index, row in enumerate(found):
        assert f"<code>user_{index}</code>" in row
        assert "<strong>loses data: Fly volume replaced (region)" in row
    assert html.count("<strong>loses data:") == len(HOSTILE)
    after_marker = html.split("\n", 1)[1]  # the marker is the one HTML comment, ours
    for made in ("<img", "<!--", "<a ", "<script", "<h1", "<del>", "<em>"):
        assert made not in after_marker, made
    assert "@team" not in html  # a word joiner stands between: no mention


def test_escape_folds_lines_and_leaves_plain_words_alone():
    assert escape("Ada Lovelace") == "Ada Lovelace"
    assert escape("a\r\nb") == "a b"
    assert escape("x" * 600).endswith("…") and len(escape("x" * 600)) == 501
    assert escape("<b>") == "&lt;b&gt;"


def test_a_thousand_changes_fit_in_one_comment_with_the_summary_first():
    review = hostile_review(1000)
    text = markdown(review)
    assert len(text) < COMMENT_LIMIT
    assert "**1000** replaced" in text.split("####", 1)[0]
    assert "whole plan is in the job's artifact" in text
    assert "<details>" not in text
    whole = markdown(review, max_chars=None, limit=1000)
    assert len(rows(RENDER.render(whole))) == 1000 and "<details>" in whole


def test_a_refused_or_failed_plan_says_so_first():
    review = replace(hostile_review(2), refusal="refused: this run would delete 9 of 10 users")
    first = markdown(review).splitlines()[1:4]
    assert "⛔ refused" in first[0] and "Refused by the mass-deletion guard" in first[2]
    review = replace(review, failure="fleet-2-of-4: error: <b>boom</b>")
    html = RENDER.render(markdown(review))
    assert "❌ failed" in html.split("</h3>")[0]
    assert "&lt;b&gt;boom&lt;/b&gt;" in html


def render_document(tmp_path, text: str, **extra: str) -> str:
    """``fleet render`` of a plan document, as the publishing job runs it; the comment written."""
    plan, out = tmp_path / "plan.json", tmp_path / "comment.md"
    plan.write_text(text)
    args = [sys.executable, "-m", "openclaw_fleet.cli", "render", "--plan", str(plan), "--output", str(out)]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return out.read_text()


def plan_document(**fields) -> str:
    return json.dumps({"stack": "prod", "stacks": 1, "users": [], **fields})


def test_hostile_plan_documents_make_a_failed_or_cut_comment_never_a_traceback(tmp_path):
    huge = render_document(tmp_path, plan_document(stacks=1e999, unchanged=10**400, cost={"before": 1e999}))
    assert "✅ ready" in huge.splitlines()[1] or "❌ failed" in huge.splitlines()[1]
    deep = render_document(tmp_path, '{"stack": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "❌ failed" in deep.splitlines()[1] and "not a plan document" in deep
    errors = [f"fleet-{index}: error: " + "x" * 10_000 for index in range(1_000)]  # 10 MB
    cut = render_document(
        tmp_path, plan_document(stack_errors=errors, others={f"r{i}" * 400: ["update"] for i in range(500)})
    )
    assert len(cut) <= COMMENT_LIMIT and "more stack errors" in cut
    users = [{"user_id": f"u{i}", "name": "n", "group": "changed", "fields": ["f" * 400] * 200} for i in range(3_000)]
    many = render_document(tmp_path, plan_document(users=users))
    assert len(many) <= COMMENT_LIMIT and "whole plan is in the job's artifact" in many


def test_a_hostile_date_hides_no_row(tmp_path):
    cost = {"before": 1.0, "after": 2.0, "prices_date": "2026-01-01\n\n<!--", "prices_source": "https://fly.io/x"}
    users = [{"user_id": "user_1", "name": "Ada", "group": "changed", "fields": ["model a → b"]}]
    html = RENDER.render(render_document(tmp_path, plan_document(cost=cost, users=users)))
    assert "<!--" not in html.split("\n", 1)[1] and "<code>user_1</code>" in html
