"""YAML loading that remembers the line of every node, so errors can say `path:line`."""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class MarkedYaml:
    """Plain Python data plus a map from a key path to the 1-based line it came from."""

    def __init__(self, data: Any, lines: dict[Path_, int]) -> None:
        self.data = data
        self.lines = lines

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:cut]))
            if found is not None:
                return found
        return 1


def load_marked(text: str) -> MarkedYaml:
    """Parse YAML safely; raises yaml.YAMLError (with a problem_mark) on bad syntax."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path_, int] = {}
    if node is None:
        return MarkedYaml(None, lines)
    _record(node, (), lines)
    return MarkedYaml(yaml.safe_load(text), lines)


def _record(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record(item, (*path, index), lines)
