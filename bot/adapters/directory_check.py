"""`nightshift check` for directory.yaml: malformed grants and unknown people, with lines."""

from __future__ import annotations

from typing import Literal

import yaml

from bot.config import Config
from bot.core.permissions import grant_error
from bot.core.problems import Problem


def check_directory(config: Config) -> list[Problem]:
    settings = config.directory
    if settings is None or settings.provider != "file" or settings.file is None:
        return []
    path = str(settings.file)
    try:
        root = yaml.compose(settings.file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as exc:
        return [Problem(path, 1, f"cannot read directory: {exc.strerror or exc}")]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return [Problem(path, line, f"invalid YAML: {exc.problem or exc}")]
    if root is None:
        return []
    checker = _Checker(path, set(config.people))
    checker.root(root)
    return checker.problems


class _Checker:
    def __init__(self, path: str, people: set[str]) -> None:
        self.path = path
        self.people = people
        self.problems: list[Problem] = []

    def add(
        self, node: yaml.Node, message: str, severity: Literal["error", "warning"] = "error"
    ) -> None:
        self.problems.append(Problem(self.path, node.start_mark.line + 1, message, severity))

    def root(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.add(node, "directory must be a mapping with `groups` and `users`")
            return
        for key, value in node.value:
            if key.value == "groups":
                self.entries(value, "group", members=True)
            elif key.value == "users":
                self.entries(value, "user", members=False)
            else:
                self.add(key, f"unknown key {key.value!r} (expected groups, users)")

    def entries(self, node: yaml.Node, kind: str, members: bool) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.add(node, f"{kind}s must be a mapping")
            return
        for key, value in node.value:
            if not members:
                self.person(key)
            if not isinstance(value, yaml.MappingNode):
                self.add(value, f"{kind} {key.value!r} must be a mapping")
                continue
            for field, item in value.value:
                if field.value == "grants":
                    self.strings(item, "grants", self.grant)
                elif field.value == "members" and members:
                    self.strings(item, "members", self.person)
                else:
                    self.add(field, f"unknown key {field.value!r} in {kind} {key.value!r}")

    def strings(self, node: yaml.Node, what: str, each: object) -> None:
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, f"{what} must be a list")
            return
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and callable(each):
                each(item)
            else:
                self.add(item, f"{what} entries must be strings")

    def grant(self, node: yaml.ScalarNode) -> None:
        error = grant_error(str(node.value))
        if error is not None:
            self.add(node, error)

    def person(self, node: yaml.Node) -> None:
        if self.people and node.value not in self.people:
            self.add(node, f"{node.value!r} is not a person in the config", "warning")
