"""The plan comment as a reviewer's browser shows it: rendered by a CommonMark renderer with GFM
tables (markdown-it-py), hostile names keep every user's row and every data-loss line, and make
no HTML, comment, link, image or mention."""

import re

from markdown_it import MarkdownIt

from openclaw_fleet.cli.comment import COMMENT_LIMIT, escape, markdown
from openclaw_fleet.cli.plan import RunReport
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
    plan = RunReport({})
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
    review = hostile_review(2)
    review.refusal = "refused: this run would delete 9 of 10 users"
    first = markdown(review).splitlines()[1:4]
    assert "⛔ refused" in first[0] and "Refused by the mass-deletion guard" in first[2]
    review.failure = "fleet-2-of-4: error: <b>boom</b>"
    html = RENDER.render(markdown(review))
    assert "❌ failed" in html.split("</h3>")[0]
    assert "&lt;b&gt;boom&lt;/b&gt;" in html
