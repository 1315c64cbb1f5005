from pathlib import Path
from textwrap import dedent

import pytest

from bot.adapters.runbooks import check_runbooks, load_runbooks, parse_runbook, render
from bot.config import Config
from bot.core.routing import Route

REPO = Path(__file__).resolve().parents[2]

GOOD = dedent(
    """\
    ---
    id: agent-regression
    title: Agent serving wrong answers
    match: {alertname: AgentAnswerQualityDrop}
    ---
    Intro text.

    ## Check the agent's tool-call traces
    requires: sso:ai-workspace, traces:agent:read
    Open {{ annotations.dashboard }} and look.

    ## Roll back to the previous prompt version
    requires: deploy:ai-agent:rollback
    ```sh
    ## not a step: a comment inside a code fence
    promptctl rollback {{ labels.agent }}
    ```

    ## Tell support
    No access needed.
    """
)


def test_parses_steps_requirements_bodies_and_lines() -> None:
    runbook, problems = parse_runbook(GOOD, "rb.md")
    assert problems == []
    assert runbook is not None
    assert (runbook.id, runbook.title, dict(runbook.match)) == (
        "agent-regression",
        "Agent serving wrong answers",
        {"alertname": "AgentAnswerQualityDrop"},
    )
    assert runbook.intro == "Intro text."
    steps = [(s.number, s.line, s.title, s.requires) for s in runbook.steps]
    assert steps == [
        (1, 8, "Check the agent's tool-call traces", ("sso:ai-workspace", "traces:agent:read")),
        (2, 12, "Roll back to the previous prompt version", ("deploy:ai-agent:rollback",)),
        (3, 19, "Tell support", ()),
    ]
    assert runbook.steps[1].body.startswith("```sh\n## not a step")
    assert runbook.steps[0].body == "Open {{ annotations.dashboard }} and look."


def test_body_renders_sandboxed_over_labels_and_annotations() -> None:
    runbook, _ = parse_runbook(GOOD, "rb.md")
    assert runbook is not None
    out = render(runbook.steps[1].body, {"agent": "support-bot"}, {})
    assert "promptctl rollback support-bot" in out
    # a label the alert lacks renders empty rather than failing the page
    assert render("x{{ labels.nope.deeper }}y", {}, {}) == "xy"
    # the sandbox refuses attribute games; the page still shows the source
    evil = "{{ labels.__class__.__mro__[1].__subclasses__() }}"
    assert "template error" in render(evil, {}, {})


def fm(body: str, front: str = "id: x\ntitle: X\nmatch: {alertname: A}\n") -> str:
    return f"---\n{front}---\n{body}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# no front matter\n", ["rb.md:1: runbook must start with YAML front matter ('---')"]),
        ("---\nid: x\n", ["rb.md:1: front matter is not closed with '---'"]),
        (
            "---\nid: x\ntitle: a: b\nmatch: {}\n---\n## a\n",
            ["rb.md:3: bad front matter: mapping values are not allowed here"],
        ),
        ("---\n- a\n---\n## a\n", ["rb.md:2: front matter must be a mapping (id, title, match)"]),
        (
            fm("## a\n", "title: X\nmatch: {a: b}\n"),
            ["rb.md:1: front matter is missing 'id'"],
        ),
        (
            fm("## a\n", "id: x\ntitle: X\n"),
            ["rb.md:1: front matter is missing 'match' (labels to match)"],
        ),
        (
            fm("## a\n", "id: x\ntitle: X\nmatch: [a, b]\n"),
            ["rb.md:4: 'match' must map label names to values"],
        ),
        (
            fm("## a\n", "id: has space\ntitle: X\nmatch: {}\n"),
            ["rb.md:2: id 'has space' may only use letters, digits, . _ -"],
        ),
        (fm("## a\n", "id: audit\ntitle: X\nmatch: {}\n"), ["rb.md:2: id 'audit' is reserved"]),
        (
            fm("## a\n", "id: x\ntitle: X\nmatch: {}\nteam: sre\n"),
            ["rb.md:5: warning: unknown front matter key 'team'"],
        ),
        (fm("just prose\n"), ["rb.md:6: runbook has no steps ('## ' headings)"]),
        (
            fm("## a\nrequires: deploy\n## b\nrequires: ok:fine:yes, a::b\n"),
            [
                "rb.md:7: grant 'deploy' is not system:resource:action",
                "rb.md:9: grant 'a::b' has an empty segment; expected system:resource:action",
            ],
        ),
        (fm("## a\nrequires:\n"), ["rb.md:7: warning: 'requires:' lists no grants"]),
        (
            fm("## a\nRun it.\nrequires: deploy:app:rollback\n"),
            [
                "rb.md:8: warning: 'requires:' counts only as a step's first line; "
                "this one is read as text"
            ],
        ),
        (
            fm("## a\nrequires: x:y:z\n\nline one\n{{ runbook_url }}\n{{ labels.ok }}\n"),
            ["rb.md:10: unknown template variable 'runbook_url' (use labels.* or annotations.*)"],
        ),
        (
            fm("\n{{ summary }}\n## a\n"),
            ["rb.md:7: unknown template variable 'summary' (use labels.* or annotations.*)"],
        ),
        (
            fm("## a\n\nfine\n{% for x in labels %}{{ x }}{% endfor %}\n{{ oops }\n"),
            ["rb.md:10: template: unexpected '}'"],
        ),
    ],
)
def test_validation_table(text: str, expected: list[str]) -> None:
    _, problems = parse_runbook(text, "rb.md")
    assert [str(p) for p in problems] == expected


def test_headings_in_lists_quotes_and_setext_are_not_steps() -> None:
    body = "## One\n- item\n  ## not a step\n> ## quoted\n\nSetext\n------\n# Part two\n## Two\n"
    runbook, problems = parse_runbook(fm(body), "rb.md")
    assert problems == []
    assert runbook is not None
    assert [(s.title, s.line) for s in runbook.steps] == [("One", 6), ("Two", 14)]
    # an `# ` heading ends the step before it
    assert runbook.steps[0].body.endswith("Setext\n------")


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    text = fm("## a\nrequires: x:y:z\nbody\n").replace("\n", "\r\n")
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbf" + text.encode())
    runbooks, problems = load_runbooks(tmp_path)
    assert problems == []
    assert runbooks[0].steps[0].requires == ("x:y:z",)


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_duplicate_ids_and_unreachable_runbooks(tmp_path: Path) -> None:
    write(tmp_path, "a.md", fm("## a\n"))
    write(tmp_path, "b.md", fm("## b\n"))
    write(tmp_path, "c.md", fm("## c\n", "id: c\ntitle: C\nmatch: {service: storage}\n"))
    write(tmp_path, "notes.txt", "ignored")
    config = Config(
        path=tmp_path / "nightshift.yaml",
        routes=(Route({"service": "checkout-api"}, policy="default"),),
        runbooks_dir=tmp_path,
    )
    # "x" only says alertname: the checkout route can still carry it; "c" contradicts it
    assert [str(p) for p in check_runbooks(config)] == [
        f"{tmp_path}/b.md:2: duplicate runbook id 'x' (first defined at {tmp_path}/a.md:2)",
        f"{tmp_path}/c.md:4: no route can reach runbook 'c' (match {{'service': 'storage'}})",
    ]


def test_missing_directory(tmp_path: Path) -> None:
    runbooks, problems = load_runbooks(tmp_path / "nope")
    assert runbooks == []
    assert [p.message for p in problems] == ["runbooks directory not found"]


def test_shipped_runbooks_are_valid_and_reachable() -> None:
    runbooks, problems = load_runbooks(REPO / "runbooks")
    assert problems == []
    ids = {r.id for r in runbooks}
    assert {"agent-regression", "checkout-errors", "storage-disk-full"} <= ids
    assert all(r.steps for r in runbooks)
