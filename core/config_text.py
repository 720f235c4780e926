"""Config text → Python data: YAML (a SafeLoader) or JSON, strict where the libraries are lax.

- a key given twice in one mapping is refused (PyYAML and json keep the last silently);
- YAML's `1e-4` is the number it means (YAML 1.1 floats need a dot, so PyYAML reads text);
- a parse error is one line (PyYAML's own message spans several, with a caret).

A leaf: `core.config` turns `DuplicateKeyError` into its ConfigError.
"""
from __future__ import annotations

import json
import re
from typing import Any

import yaml


class DuplicateKeyError(ValueError):
    """A key given twice in one mapping."""


# YAML 1.1 reads 1e-4 as text (its floats need a dot); a config means the number.
_YAML_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges defaults that explicit keys may override
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # the base constructor reports unhashable keys itself
        line = key_node.start_mark.line + 1
        if key in seen:
            where = f"line {line}" if seen[key] == line else f"lines {seen[key]} and {line}"
            raise DuplicateKeyError(f"duplicate key {key!r} ({where}); give each key once")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _unique_mapping)
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT,
                                       list("-+0123456789."))


def _unique_object(pairs: list[tuple[str, Any]]) -> dict:
    """json `object_pairs_hook`: refuse a key given twice in one object (json keeps the last)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate key {key!r}; give each key once")
        out[key] = value
    return out


def parse_text(text: str, json_format: bool = False):
    """YAML (or JSON) text → Python data, refusing a key repeated in any mapping.

    Args:
        text (str): the text.
        json_format (bool): parse as JSON instead of YAML (a safe loader).

    Returns:
        Any: the parsed data.

    Raises:
        DuplicateKeyError: for a repeated key.
        yaml.YAMLError | json.JSONDecodeError: for text that does not parse.
    """
    if json_format:
        return json.loads(text, object_pairs_hook=_unique_object)
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def parse_error_text(exc: Exception) -> str:
    """One line for a YAML/JSON parse error (PyYAML's own text spans several, with a caret).

    Args:
        exc (Exception): the error.

    Returns:
        str: "line L, column C: problem" for a marked YAML error, else the error's text on
        one line.
    """
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return " ".join(str(exc).split())
