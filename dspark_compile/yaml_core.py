"""Strict YAML for recipes: the YAML 1.2 core schema, text files only, no duplicate keys, no aliases.

PyYAML implements YAML 1.1, where `off`, `no`, `y` are booleans, `1:20` is a number and `2024-01-01`
a date; the README writes `mode: off` unquoted and means the word. This loader keeps PyYAML's parser and
resolves plain scalars by the 1.2 core schema instead (booleans are only true/false, numbers only
decimal, 0o octal, 0x hex and floats). A key given twice in one mapping is an error, not a silent
overwrite, and aliases (`*name`, also the `<<` merges built on them) are refused: they are what makes
"billion laughs" documents, and recipes have no use for them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20
"""A recipe is a few hundred bytes; anything past 1 MiB is not one."""

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map", "null", "bool", "int", "float")}


class YamlError(ValueError):
    """The text is not a recipe-shaped YAML document; the message gives line and column."""


class _CoreLoader(yaml.SafeLoader):
    """SafeLoader's parser with YAML 1.2 core resolution, duplicate-key and alias refusal."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors = {tag: fn for tag, fn in yaml.SafeLoader.yaml_constructors.items()
                         if tag is None or tag in _CORE_TAGS}

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlError(f"line {event.start_mark.line + 1}: the alias '*{event.anchor}' is not allowed in a "
                            "recipe (write the value out)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                raise YamlError(f"line {line}: a mapping key must be a plain value, got {key_node.tag}") from None
            if first is not None:
                raise YamlError(f"line {line}: the key {key!r} is given twice in one mapping (first on line "
                                f"{first}); each key may appear once")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node).lower()
        if text.endswith("nan"):
            return math.nan
        return float(text.replace(".inf", "inf"))

    def construct_yaml_bool(self, node):
        return self.construct_scalar(node).lower() == "true"


for _tag, _pattern, _first in (("bool", _BOOL, "tTfF"), ("int", _INT, "-+0123456789"),
                               ("float", _FLOAT, "-+0123456789."), ("null", _NULL, ["~", "n", "N", ""])):
    _CoreLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _pattern, list(_first))
_CoreLoader.add_constructor("tag:yaml.org,2002:int", _CoreLoader.construct_yaml_int)
_CoreLoader.add_constructor("tag:yaml.org,2002:float", _CoreLoader.construct_yaml_float)
_CoreLoader.add_constructor("tag:yaml.org,2002:bool", _CoreLoader.construct_yaml_bool)


def loads(text: str) -> Any:
    """Parse one YAML document by the rules above; YamlError says what and where."""
    try:
        return yaml.load(text, Loader=_CoreLoader)  # noqa: S506 (a safe loader: core tags only)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}: " if exc.problem_mark else ""
        raise YamlError(f"{where}{exc.problem or exc}") from None
    except RecursionError:
        raise YamlError("nested too deeply for a recipe") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise YamlError(str(exc) or type(exc).__name__) from None


def load_file(path: Path) -> Any:
    """Read a YAML text file (UTF-8, no NUL bytes, at most MAX_BYTES) and parse it with `loads`."""
    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YamlError(f"larger than {MAX_BYTES >> 20} MiB; a recipe is a short text file")
    if b"\x00" in data:
        raise YamlError("a binary file (it holds NUL bytes); a recipe is a YAML text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text (byte {exc.start}); a recipe is a YAML text file") from None
    return loads(text)
