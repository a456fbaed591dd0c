"""Configuration problems in the words of the person who edits the YAML: pydantic's validation errors become
one line per problem, `file: field.path: what is wrong`, naming the file a value came from when `extends`
merged several."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from redshift_idc import project
from redshift_idc.config.error_wording import problem, yaml_kind
from redshift_idc.config.schema_slots import allowed_keys


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


# Key path in the merged document (list indices dropped: a list is one leaf) -> the file that set it.
Origins = dict[tuple[str, ...], Path]


def _key_path(loc: tuple[int | str, ...], field_path: str = "") -> tuple[str, ...]:
    """The document keys an error is about: pydantic's location without list indices, union tags or
    `[key]` markers, followed by the field path a model-level message names."""
    keys: list[str] = []
    for item in loc:
        if isinstance(item, int) or item == "[key]":
            continue
        if item in ("create", "existing") and keys == ["network"]:
            continue
        keys.append(item)
    if field_path:
        keys += [re.sub(r"\[\d+\]", "", part) for part in field_path.split(".")]
    return tuple(keys)


def _origin_of(keys: tuple[str, ...], origins: Origins) -> list[Path]:
    """The file(s) that set `keys`: the file of the value itself or of the list/scalar holding it, else
    the files of everything under it (a mapping several files contributed to). Nothing at top level."""
    if not keys:
        return []
    for length in range(len(keys), 0, -1):
        if keys[:length] in origins:
            return [origins[keys[:length]]]
    return sorted({file for path, file in origins.items() if path[:len(keys)] == keys}, key=str)


def _format_location(loc: tuple[int | str, ...]) -> str:
    """`('warehouse', 'groups', 2, 'group_id')` -> `warehouse.groups[2].group_id`; drops union tags."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item == "[key]":  # pydantic's marker for a problem with a mapping's key rather than its value
            parts.append(" (the key)")
        elif item in ("create", "existing") and parts and parts[-1] == "network":
            continue  # the discriminator pydantic inserts; the user never wrote it
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


# Model-level checks word their messages `field.path: problem` (pydantic can only locate them at the model).
_MESSAGE_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)$", re.DOTALL)


def format_validation_error(path: Path, error: ValidationError, root: type[BaseModel], *,
                            origins: Origins | None = None, bases: Sequence[Path] = ()) -> str:
    """One line per problem: `file: field.path: what is wrong, and what to write instead`. With `origins` (an
    environment merged over `bases` by `extends`), a problem set by another file than `path` ends with
    `[set in <file>]`."""
    merged = f"; merged over {', '.join(str(project.shown(b)) for b in bases)}" if bases else ""

    def origin(loc: tuple[int | str, ...], field_path: str = "") -> str:
        if origins is None:
            return ""
        files = [project.shown(f) for f in _origin_of(_key_path(loc, field_path), origins)]
        return f" [set in {', '.join(map(str, files))}]" if files and files != [project.shown(path)] else ""

    items = error.errors()
    # A list whose item failed also fails "at least 1 item" (the bad item was dropped): one problem, not two.
    deeper = {tuple(item["loc"][:-1]) for item in items if len(item["loc"]) > 1}
    items = [item for item in items if not (item["type"] == "too_short" and tuple(item["loc"]) in deeper)]
    lines = [f"{project.shown(path)}: invalid configuration ({len(items)} problem{'s' if len(items) > 1 else ''}"
             f"{merged}):"]
    for item in items:
        loc = tuple(item["loc"])
        where = _format_location(loc)
        if item["type"] == "extra_forbidden":
            allowed = allowed_keys(loc, root)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            lines.append(f"  {where}: unknown key; {hint}allowed keys here: {', '.join(allowed)}{origin(loc)}")
            continue
        message = problem(item, root)
        field_path = ""
        if item["type"] == "value_error" and (inner := _MESSAGE_PATH.match(message)):
            field_path, message = inner.groups()
            where = field_path if where == "(top level)" else f"{where}.{field_path}"
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the key that picks the variant
            where = f"{where}.{str(item['ctx']['discriminator']).strip(chr(39))}"
        lines.append(f"  {where}: {message}{origin(loc, field_path)}")
    return "\n".join(lines)


def not_a_mapping(source: Path, data: Any, example: str) -> ConfigError:
    """A file whose top level is not `key: value` lines (a list, text, a number)."""
    return ConfigError(f"{project.shown(source)}: expected a mapping of settings at the top level, not "
                       f"{yaml_kind(data)}: write one `key: value` line per setting, e.g. {example}")
