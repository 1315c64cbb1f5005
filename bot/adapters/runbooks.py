"""Load `runbooks/*.md`: YAML front matter, one step per `## ` heading, sandboxed Jinja2.

Markdown structure comes from markdown-it-py (a `## ` inside a code fence is not a
step); line numbers are kept so `nightshift check` can say `path:line: message`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

from bot.config import Config
from bot.core.permissions import grant_error, split_grants
from bot.core.problems import Problem
from bot.core.routing import Route
from bot.core.runbook import Runbook, RunbookStep, reachable_routes

TEMPLATE_VARIABLES = frozenset({"labels", "annotations"})
RESERVED_IDS = frozenset({"audit", "help"})  # `/runbook audit` and `/runbook help`
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REQUIRES = re.compile(r"^\s*requires\s*:(.*)$", re.IGNORECASE)
_KNOWN_KEYS = frozenset({"id", "title", "match", "owner"})


@lru_cache(maxsize=1)
def template_env() -> SandboxedEnvironment:
    # ChainableUndefined: a label an alert does not carry renders empty instead of failing
    return SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


class Placeholders(dict[str, str]):
    """Labels outside an incident: `{{ labels.agent }}` shows as `‹labels.agent›`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, key: str) -> str:
        return f"‹{self.prefix}.{key}›"


def render(source: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Render a runbook body; a broken template shows its source rather than nothing."""
    try:
        template = template_env().from_string(source)
        return template.render(labels=_mapping(labels), annotations=_mapping(annotations)).strip()
    except Exception as exc:  # sandbox violations and template errors alike
        return f"{source}\n(template error: {exc})"


def _mapping(values: Mapping[str, str]) -> Mapping[str, str]:
    return values if isinstance(values, Placeholders) else dict(values)


def load_runbooks(directory: Path) -> tuple[list[Runbook], list[Problem]]:
    """Parse every `*.md` in `directory` (sorted by name); duplicates are reported and dropped."""
    runbooks: list[Runbook] = []
    problems: list[Problem] = []
    if not directory.is_dir():
        return [], [Problem(str(directory), 0, "runbooks directory not found")]
    seen: dict[str, Runbook] = {}
    for path in sorted(directory.glob("*.md")):
        runbook, found = parse_runbook(path.read_text(encoding="utf-8-sig"), str(path))
        problems.extend(found)
        if runbook is None:
            continue
        if runbook.id in seen:
            first = seen[runbook.id]
            problems.append(
                Problem(
                    runbook.path,
                    runbook.line,
                    f"duplicate runbook id {runbook.id!r} (first defined at {first.path}:"
                    f"{first.line})",
                )
            )
            continue
        seen[runbook.id] = runbook
        runbooks.append(runbook)
    return runbooks, problems


def parse_runbook(text: str, path: str) -> tuple[Runbook | None, list[Problem]]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, [Problem(path, 1, "runbook must start with YAML front matter ('---')")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return None, [Problem(path, 1, "front matter is not closed with '---'")]
    front, problems = _front_matter("\n".join(lines[1:end]), path)
    if front is None:
        return None, problems
    body_start = end + 1  # 0-based index of the first body line
    intro, steps, step_problems = _steps(lines[body_start:], body_start, path)
    problems.extend(step_problems)
    runbook = Runbook(
        id=front["id"],
        title=front["title"],
        match=front["match"],
        owner=front.get("owner"),
        steps=tuple(steps),
        intro=intro,
        path=path,
        line=front["_lines"].get("id", 2),
        match_line=front["_lines"].get("match", 2),
    )
    if not steps:
        problems.append(Problem(path, body_start + 1, "runbook has no steps ('## ' headings)"))
    return runbook, problems


def _front_matter(source: str, path: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    try:
        loader = yaml.SafeLoader(source)
        try:  # one parse: the node tree gives line numbers, the same tree gives the data
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        return None, [Problem(path, line, f"bad front matter: {exc.problem or exc}")]
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return None, [Problem(path, 2, "front matter must be a mapping (id, title, match)")]
    key_lines: dict[str, int] = {str(k.value): int(k.start_mark.line) + 2 for k, _ in node.value}
    problems: list[Problem] = []

    def at(key: str) -> int:
        return key_lines.get(key, 1)

    for key in data:
        if key not in _KNOWN_KEYS:
            problems.append(
                Problem(path, at(str(key)), f"unknown front matter key {key!r}", "warning")
            )
    front: dict[str, Any] = {"_lines": key_lines}
    for key in ("id", "title"):
        value = data.get(key)
        if value is None:
            problems.append(Problem(path, 1, f"front matter is missing {key!r}"))
        elif not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
            problems.append(Problem(path, at(key), f"{key!r} must be a non-empty string"))
        else:
            front[key] = str(value)
    if "id" in front:
        if not _ID.match(front["id"]):
            problems.append(
                Problem(path, at("id"), f"id {front['id']!r} may only use letters, digits, . _ -")
            )
        elif front["id"] in RESERVED_IDS:
            problems.append(Problem(path, at("id"), f"id {front['id']!r} is reserved"))
    match = data.get("match")
    if match is None:
        problems.append(Problem(path, 1, "front matter is missing 'match' (labels to match)"))
    elif not isinstance(match, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in match.values()
    ):
        problems.append(Problem(path, at("match"), "'match' must map label names to values"))
    else:
        front["match"] = {str(k): str(v) for k, v in match.items()}
    owner = data.get("owner")
    if owner is not None:
        if isinstance(owner, str) and owner:
            front["owner"] = owner
        else:
            problems.append(Problem(path, at("owner"), "'owner' must be a non-empty string"))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return front, problems


def _steps(
    lines: list[str], offset: int, path: str
) -> tuple[str, list[RunbookStep], list[Problem]]:
    """Split the body at ATX `## ` headings (an `# ` heading also ends a step)."""
    tokens = _markdown().parse("\n".join(lines))
    heads: list[tuple[int, int, str, bool]] = []  # (start, end, title, is_step)
    for i, token in enumerate(tokens):
        # top level only: a heading inside a list or a quote is part of a step
        if token.type != "heading_open" or token.level != 0 or not token.map:
            continue
        is_step = token.tag == "h2" and token.markup == "##"  # not a setext `---` heading
        if is_step or token.tag == "h1":
            heads.append((token.map[0], token.map[1], tokens[i + 1].content.strip(), is_step))
    intro_end = heads[0][0] if heads else len(lines)
    intro = "\n".join(lines[:intro_end]).strip()
    steps: list[RunbookStep] = []
    problems: list[Problem] = []
    if intro:
        first = next(i for i in range(intro_end) if lines[i].strip())
        problems.extend(_template_problems(intro, offset + first + 1, path))
    for n, (start, end, title, is_step) in enumerate(heads):
        if not is_step:
            continue
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        step, found = _step(len(steps) + 1, title, lines, start, end, stop, offset, path)
        steps.append(step)
        problems.extend(found)
    return intro, steps, problems


def _step(
    number: int,
    title: str,
    lines: list[str],
    start: int,
    end: int,
    stop: int,
    offset: int,
    path: str,
) -> tuple[RunbookStep, list[Problem]]:
    line_no = offset + start + 1
    problems: list[Problem] = []
    body = list(range(end, stop))
    first = next((i for i in body if lines[i].strip()), None)
    requires: tuple[str, ...] = ()
    if first is not None and (found := _REQUIRES.match(lines[first])):
        requires = split_grants(found.group(1))
        body.remove(first)
        if not requires:
            problems.append(
                Problem(path, offset + first + 1, "'requires:' lists no grants", "warning")
            )
        for grant in requires:
            error = grant_error(grant)
            if error is not None:
                problems.append(Problem(path, offset + first + 1, error))
    for i in body:
        if _REQUIRES.match(lines[i]):
            problems.append(
                Problem(
                    path,
                    offset + i + 1,
                    "'requires:' counts only as a step's first line; this one is read as text",
                    "warning",
                )
            )
    while body and not lines[body[0]].strip():
        body.pop(0)
    while body and not lines[body[-1]].strip():
        body.pop()
    source = "\n".join(lines[i] for i in body)
    if not title:
        problems.append(Problem(path, line_no, "step has an empty title"))
    body_line = offset + (body[0] if body else end) + 1
    problems.extend(_template_problems(source, body_line, path))
    step = RunbookStep(number, title, requires, source, line_no)
    return step, problems


def _template_problems(source: str, first_line: int, path: str) -> list[Problem]:
    """Syntax errors and variables that can never be set (anything but labels/annotations)."""
    if "{" not in source:
        return []  # plain Markdown: nothing for Jinja to check
    try:
        ast = template_env().parse(source)
    except TemplateSyntaxError as exc:
        return [Problem(path, first_line + (exc.lineno or 1) - 1, f"template: {exc.message}")]
    unknown = meta.find_undeclared_variables(ast) - TEMPLATE_VARIABLES
    problems = []
    for name in sorted(unknown, key=lambda n: _first_use(ast.find_all(nodes.Name), n)):
        line = first_line + _first_use(ast.find_all(nodes.Name), name) - 1
        problems.append(
            Problem(
                path,
                line,
                f"unknown template variable {name!r} (use labels.* or annotations.*)",
            )
        )
    return problems


def _first_use(names: Iterable[nodes.Name], name: str) -> int:
    return min((n.lineno for n in names if n.name == name and n.ctx == "load"), default=1)


def reachable_problems(runbooks: Iterable[Runbook], routes: Sequence[Route]) -> list[Problem]:
    return [
        Problem(
            runbook.path,
            runbook.match_line,
            f"no route can reach runbook {runbook.id!r} (match {dict(runbook.match)})",
        )
        for runbook in runbooks
        if not reachable_routes(runbook, routes)
    ]


def check_runbooks(config: Config) -> list[Problem]:
    """Everything `nightshift check` reports about the runbooks of a config."""
    if config.runbooks_dir is None:
        return []
    runbooks, problems = load_runbooks(config.runbooks_dir)
    problems.extend(reachable_problems(runbooks, config.routes))
    return problems
