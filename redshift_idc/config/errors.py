"""Configuration problems in the words of the person who edits the YAML: pydantic's validation errors become
one line per problem, `file: field.path: what is wrong`, naming the file a value came from when `extends`
merged several."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from redshift_idc import project


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
        elif item in ("create", "existing") and parts and parts[-1] == "network":
            continue  # the discriminator pydantic inserts; the user never wrote it
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    """The keys a model accepts at `loc`, for did-you-mean hints on unknown keys."""
    models: list[type[BaseModel]] = [root]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        tagged = [m for m in models if _has_tag(m, item)] if len(models) > 1 else []
        if tagged:  # the discriminated-union tag pydantic puts in the location picks the variant
            models = tagged
            continue
        field = next((f for n, f in models[0].model_fields.items() if (f.alias or n) == item), None)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        models = [c for c in candidates if issubclass(c, BaseModel)]
        if not models:
            return []
    model = models[0]
    return sorted((f.alias or n) for n, f in model.model_fields.items() if n != "name" or model is not root)


def _has_tag(model: type[BaseModel], tag: str) -> bool:
    """Whether `tag` is the value of one of `model`'s literal fields (a discriminated union's variant tag)."""
    return any(get_origin(field.annotation) is Literal and tag in get_args(field.annotation)
               for field in model.model_fields.values())


# Model-level checks word their messages `field.path: problem` (pydantic can only locate them at the model).
_MESSAGE_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)$", re.DOTALL)


# The forms the configuration's patterns allow, in words, with an example (what a user reads instead of a regex).
PATTERN_WORDS: dict[str, str] = {
    r"^\d{12}$": "a 12-digit AWS account id, quoted, e.g. \"111111111111\"",
    r"^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-\d$": "an AWS region name, e.g. us-east-1 or eu-west-2",
    r"^[a-z0-9-]{3,64}$": "3 to 64 lower-case letters, digits and hyphens, e.g. analytics-dev",
    r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$": "lower-case letters and digits in hyphen-separated words, e.g. redshift-idc",
    r"^[a-zA-Z][a-zA-Z0-9_+.@-]{0,126}$": "a letter, then up to 126 letters, digits or _+.@-, e.g. dev",
    r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$": "a VPC id, e.g. vpc-0123456789abcdef0",
    r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$": "a subnet id, e.g. subnet-0123456789abcdef0",
    r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$": "a security group id, e.g. sg-0123456789abcdef0",
    r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])$": "an IPv4 CIDR block from /16 to /24, e.g. 10.40.0.0/16",
    r"^[0-9a-fA-F]{40}$": "40 hexadecimal digits (a SHA-1 thumbprint)",
    r"^[a-z][a-z0-9-]{0,62}$": "the name of a file under access/ without .yaml: lower-case letters, digits and "
                               "hyphens, starting with a letter, e.g. demo",
    r"^[a-z][a-z0-9-]{0,30}$": "lower-case letters, digits and hyphens, starting with a letter, e.g. dev",
    r"^[A-Za-z0-9_./-]+\.sql$": "a path under sql/ ending in .sql, e.g. demo/001_sales_data.sql",
    r"^[A-Za-z0-9_./-]+\.csv$": "a path beside the model ending in .csv, e.g. samples/sales_data.csv",
}
_IAM_NAME = re.compile(r"\^\[\\w\+=,\.@-\]\{1,(\d+)\}\$")
_EXPECTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _problem(item: Any) -> str:
    """A pydantic error in the words of someone writing YAML."""
    kind = item["type"]
    message = str(item["msg"]).removeprefix("Value error, ")
    got = item.get("input")
    if kind in ("tuple_type", "list_type", "set_type"):
        example = f"[{got}]" if isinstance(got, str | int | float) and not isinstance(got, bool) else "[...]"
        return f"expected a list, e.g. {example}"
    if kind == "string_pattern_mismatch":
        pattern = str(item["ctx"]["pattern"])
        if (iam := _IAM_NAME.fullmatch(pattern)) is not None:
            return f"expected 1 to {iam.group(1)} letters, digits or any of + = , . @ _ - (an IAM-style name)"
        return f"expected {PATTERN_WORDS.get(pattern, f'text of the form {pattern}')}"
    if kind == "literal_error":
        options = _EXPECTED.findall(str(item["ctx"].get("expected", "")))
        close = ([o for o in options if o.lower() == got.lower()]
                 or difflib.get_close_matches(got, options, n=1, cutoff=0.5)) if isinstance(got, str) else []
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"'{got}' is not one of {', '.join(options)}{hint}" if options else message
    if kind == "missing":
        return "required, but not set"
    if kind == "string_type" and isinstance(got, int | float) and not isinstance(got, bool):
        return f"expected text; YAML read {got!r} as a number: quote it, e.g. \"{got}\""
    return message


def format_validation_error(path: Path, error: ValidationError, data: Any,
                            root: type[BaseModel], *, origins: Origins | None = None,
                            bases: Sequence[Path] = ()) -> str:
    """One line per problem: `file: field.path: what is wrong (got: value)`. With `origins` (an environment
    merged over `bases` by `extends`), a problem set by another file than `path` ends with `[set in <file>]`."""
    count = f"{error.error_count()} problem{'s' if error.error_count() > 1 else ''}"
    merged = f"; merged over {', '.join(str(project.shown(b)) for b in bases)}" if bases else ""
    lines = [f"{project.shown(path)}: invalid configuration ({count}{merged}):"]

    def origin(loc: tuple[int | str, ...], field_path: str = "") -> str:
        if origins is None:
            return ""
        files = [project.shown(f) for f in _origin_of(_key_path(loc, field_path), origins)]
        return f" [set in {', '.join(map(str, files))}]" if files and files != [project.shown(path)] else ""

    items = error.errors()
    # A list whose item failed also fails "at least 1 item" (the bad item was dropped): one problem, not two.
    deeper = {tuple(item["loc"][:-1]) for item in items if len(item["loc"]) > 1}
    items = [item for item in items if not (item["type"] == "too_short" and tuple(item["loc"]) in deeper)]
    count = f"{len(items)} problem{'s' if len(items) > 1 else ''}"
    lines[0] = f"{project.shown(path)}: invalid configuration ({count}{merged}):"
    for item in items:
        loc = tuple(item["loc"])
        where = _format_location(loc)
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc, root)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            lines.append(f"  {where}: unknown key; {hint}allowed keys here: {', '.join(allowed)}{origin(loc)}")
            continue
        message = _problem(item)
        field_path = ""
        if item["type"] == "value_error" and (inner := _MESSAGE_PATH.match(message)):
            field_path, message = inner.groups()
            where = field_path if where == "(top level)" else f"{where}.{field_path}"
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the key that picks the variant
            where = f"{where}.{str(item['ctx']['discriminator']).strip(chr(39))}"
            message = (f"'{item['ctx']['tag']}' is not one of {item['ctx']['expected_tags']}"
                       if item["type"] == "union_tag_invalid" else "required: it selects which settings apply")
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None or item["type"] in (
            "tuple_type", "list_type", "literal_error") else f" (got: {got!r})"
        lines.append(f"  {where}: {message}{shown}{origin(loc, field_path)}")
    return "\n".join(lines)
