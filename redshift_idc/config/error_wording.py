"""Pydantic's validation errors in the words of someone writing YAML.

One table maps each pydantic error type to our wording; every wording says what to write instead, with
YAML's names for values (`true`, `null`, "text", "a list", "a mapping"), never pydantic's sentence or
Python's names (`True`, `None`, `tuple`). A type the table does not know still gets the YAML type its
field expects, read from the schema at the error's location.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from redshift_idc.config.schema_slots import Slot, field_named, keys_of, models_in, slot_at, strip_optional

# The forms the configuration's patterns allow, in words, with an example (what a user reads instead of a regex).
PATTERN_WORDS: dict[str, str] = {
    r"^\d{12}$": "a 12-digit AWS account id, quoted, e.g. \"111111111111\"",
    r"^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-\d$": "an AWS region name, e.g. us-east-1 or eu-west-2",
    r"^[a-z0-9-]{3,64}$": "3 to 64 lower-case letters, digits and hyphens, e.g. analytics-dev",
    r"^[a-z0-9_-]*[a-z][a-z0-9_-]*$": "lower-case letters, digits, '_' and '-', with at least one letter, "
                                      "e.g. sales-catalog",
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
    r"^[\w+=,.@-]+$": "letters, digits or any of + = , . @ _ - (no spaces), e.g. redshift-idc-app",
    r"^[a-zA-Z0-9_+.#@$-]+$": "letters, digits or any of _ + . # @ $ - (no spaces or ':'), e.g. AWSIDC",
    r"^[\w .:/=+@-]+$": "letters, digits, spaces or any of _ . : / = + @ - (an AWS tag key), e.g. owner",
    r"^[\w .:/=+@-]*$": "letters, digits, spaces or any of _ . : / = + @ - (an AWS tag value), e.g. data-team",
    r"^[A-Za-z0-9_.:-]{1,255}$": "a claim or attribute name: letters, digits or _ . : -, e.g. email",
    r"^[\w.-]+/[\w.-]+$": "a repository as owner/name, e.g. acme/redshift-idc",
    r"^arn:aws(-[a-z]+)*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$":
        "a CodeConnections connection ARN, e.g. arn:aws:codeconnections:us-east-1:111111111111:connection/"
        "0123abcd-0123-abcd-0123-0123456789ab",
}
_IAM_NAME = re.compile(r"\^\[\\w\+=,\.@-\]\{1,(\d+)\}\$")
_EXPECTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_LONGEST_SHOWN = 60  # characters of a value a message repeats; longer text is cut, with its length


def yaml_value(value: Any) -> str:
    """A value as YAML writes it: `true`, `null`, `8`, text in quotes (long text cut short)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= _LONGEST_SHOWN else value[:_LONGEST_SHOWN - 20] + "..."
        quoted = (json.dumps(text, ensure_ascii=False) if any(ord(ch) < 32 for ch in text)
                  else "'" + text.replace("'", "''") + "'")
        return quoted if text == value else f"{quoted} of {len(value)} characters"
    return yaml_kind(value)


def yaml_kind(value: Any) -> str:
    """What YAML read, named as YAML names it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {yaml_value(value)}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {yaml_value(value)}"
    if isinstance(value, Mapping):
        return "a mapping (key: value lines)"
    if isinstance(value, list | tuple):
        return "a list"
    return "a value of another kind"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def expected(slot: Slot | None, root: type[BaseModel] | None = None) -> str:
    """The YAML type (and form, when known) a slot takes, e.g. "true or false", "a list"."""
    if slot is None:
        return "a value of the documented form"
    pattern = slot.constraint("pattern")
    if pattern is not None and str(pattern) in PATTERN_WORDS:
        return PATTERN_WORDS[str(pattern)]
    annotation = strip_optional(slot.annotation)
    origin = get_origin(annotation)
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "a whole number"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "text"
    if origin is Literal:
        return "one of " + ", ".join(map(str, get_args(annotation)))
    if origin in (tuple, list, set, frozenset):
        return "a list"
    if origin is dict:
        return "a mapping of key: value pairs"
    if models := models_in(annotation):
        keys = keys_of(models[0], root) if len(models) == 1 else []
        return f"a mapping with the keys {', '.join(keys)}" if keys else "a mapping of settings"
    return "a value of the documented form"


# --- the wording of each error type -------------------------------------------------------------------


@dataclass(frozen=True)
class _Error:
    kind: str
    ctx: Mapping[str, Any]
    got: Any
    key: str | int | None  # the last key of the location (an int for a list item)
    slot: Slot | None
    root: type[BaseModel]
    message: str  # pydantic's own; only a validator's message (ours) is ever shown

    @property
    def wants(self) -> str:
        return expected(self.slot, self.root)

    @property
    def optional(self) -> bool:
        return self.slot is not None and self.slot.optional

    def example(self, value: str) -> str:
        """`key: value`, as the line to write (`- value` for a list item)."""
        return f"{self.key}: {value}" if isinstance(self.key, str) else f"- {value}"

    @property
    def found(self) -> str:
        """` (found: <value>)`, repeating a scalar value the message does not already name."""
        return f" (found: {yaml_value(self.got)})" if _is_scalar(self.got) else ""


def _or_remove(error: _Error) -> str:
    return ", or remove the key" if error.optional else ""


def _empty(error: _Error, wants: str) -> str:
    after = f"after '{error.key}:'" if isinstance(error.key, str) else "after its '- '"
    return f"empty (YAML reads nothing {after} as null): write a value ({wants}){_or_remove(error)}"


def _text(error: _Error) -> str:
    got, wants = error.got, error.wants
    if got is None:
        return _empty(error, wants)
    if _is_scalar(got):  # YAML read a boolean or a number: quoting keeps it text, if that text is a valid value
        written = yaml_value(got)
        pattern = error.slot.constraint("pattern") if error.slot is not None else None
        read = (f"{written} as a boolean (unquoted, true, false, yes, no, on and off are booleans)"
                if isinstance(got, bool) else f"the value as the number {got}")
        if pattern is not None and not re.search(str(pattern), written):
            return f"expected {wants}, but YAML read {read}"
        return f"expected {wants}, but YAML read {read}: quote it as written, e.g. {error.example(json.dumps(written))}"
    if isinstance(got, list | tuple):
        first = f", e.g. {error.example(str(got[0]))}" if got and _is_scalar(got[0]) else ""
        return f"expected {wants}, not a list: write a single value{first}"
    return f"expected {wants}, not {yaml_kind(got)}: write the value on the key's line, e.g. {error.example('...')}"


def _number(whole: bool) -> Callable[[_Error], str]:
    def wording(error: _Error) -> str:
        got = error.got
        wants = "a whole number" if whole else "a number"
        if got is None:
            return _empty(error, wants)
        default = error.slot.field.default if error.slot is not None and error.slot.field is not None else None
        lowest = error.slot.constraint("ge") if error.slot is not None else None
        sample = (default if isinstance(default, int | float) and not isinstance(default, bool)
                  else lowest if isinstance(lowest, int) and lowest > 0 else 10)
        if isinstance(got, float) and whole:
            return f"expected {wants}, e.g. {error.example(str(round(got)))}{error.found}"
        if _is_scalar(got):
            return f"expected {wants} written in digits, without quotes, e.g. {error.example(str(sample))}{error.found}"
        return f"expected {wants}, not {yaml_kind(got)}: write one, e.g. {error.example(str(sample))}"
    return wording


def _boolean(error: _Error) -> str:
    if error.got is None:
        return _empty(error, "true or false")
    return f"expected true or false, without quotes, e.g. {error.example('true')}{error.found}"


def _mapping(error: _Error) -> str:
    wants = error.wants if error.wants.startswith("a mapping") else "a mapping of settings"
    under = f"write them as key: value lines under '{error.key}:', indented"
    if error.got is None:
        return f"empty: expected {wants}: {under}{_or_remove(error)}"
    if isinstance(error.got, list | tuple):
        return f"expected {wants}, not a list: write key: value lines, without '- '"
    return f"expected {wants}, not {yaml_kind(error.got)}: {under}"


def _list(error: _Error) -> str:
    got = error.got
    if got is None:
        return f"empty: expected a list, e.g. {error.example('[...]')}{_or_remove(error)}"
    if isinstance(got, Mapping):
        return "expected a list, not a mapping: write its items as '- item' lines, or on one line as [a, b]"
    example = f"[{got}]" if _is_scalar(got) and not isinstance(got, bool) else "[...]"
    return f"expected a list, e.g. {example}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _too_short(error: _Error) -> str:
    least, found = int(error.ctx.get("min_length", 1)), int(error.ctx.get("actual_length", 0))
    return f"needs at least {_count(least, 'item')}, has {found or 'none'}: add {least - found}"


def _too_long(error: _Error) -> str:
    most, found = int(error.ctx.get("max_length", 0)), int(error.ctx.get("actual_length", 0))
    return f"holds at most {_count(most, 'item')}, has {found}: remove {found - most}"


def _text_too_short(error: _Error) -> str:
    least = int(error.ctx.get("min_length", 1))
    if least == 1:
        return f"empty: write a value{_or_remove(error)}"
    return f"too short: write at least {least} characters{error.found}"


def _text_too_long(error: _Error) -> str:
    size = len(error.got) if isinstance(error.got, str) else 0
    return f"too long: {size} characters, at most {error.ctx.get('max_length')}: shorten it{error.found}"


def _pattern(error: _Error) -> str:
    pattern = str(error.ctx["pattern"])
    if (iam := _IAM_NAME.fullmatch(pattern)) is not None:
        return (f"expected 1 to {iam.group(1)} letters, digits or any of + = , . @ _ - (an IAM-style name)"
                f"{error.found}")
    return f"expected {PATTERN_WORDS.get(pattern, f'text of the form {pattern}')}{error.found}"


def _choice(error: _Error) -> str:
    got = error.got
    options = _EXPECTED.findall(str(error.ctx.get("expected", "")))
    close = ([o for o in options if o.lower() == got.lower()]
             or difflib.get_close_matches(got, options, n=1, cutoff=0.5)) if isinstance(got, str) else []
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{yaml_value(got)} is not one of {', '.join(options)}{hint}" if options else f"expected {error.wants}"


def _bound(words: str, ctx_key: str) -> Callable[[_Error], str]:
    def wording(error: _Error) -> str:
        limit = error.ctx.get(ctx_key)
        return f"{words} {limit}, e.g. {error.example(str(limit))}{error.found}"
    return wording


def _own(error: _Error) -> str:
    """A validator's own message (ours, already worded for the file's author)."""
    message = error.message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    number_for_text = (isinstance(error.got, int | float) and not isinstance(error.got, bool)
                       and error.slot is not None and error.slot.base is str)
    return message if number_for_text else f"{message}{error.found}"


def _missing(error: _Error) -> str:
    field = error.slot.field if error.slot is not None else None
    described = f"; {field.description}" if field is not None and field.description else ""
    return f"required, but not set: add it ({error.wants}){described}"


def _no_tag(error: _Error) -> str:
    key = str(error.ctx.get("discriminator", "")).strip("'")
    models = models_in(error.slot.annotation) if error.slot is not None else []
    tags = [str(tag) for model in models if (field := field_named(model, key)) is not None
            and get_origin(field.annotation) is Literal for tag in get_args(field.annotation)]
    return f"required: it selects which settings apply; add it: {' or '.join(tags) or 'see the documentation'}"


_WORDING: dict[str, Callable[[_Error], str]] = {
    "missing": _missing,
    "string_type": _text,
    "string_too_short": _text_too_short,
    "string_too_long": _text_too_long,
    "string_pattern_mismatch": _pattern,
    "int_type": _number(whole=True),
    "int_parsing": _number(whole=True),
    "int_parsing_size": _number(whole=True),
    "int_from_float": _number(whole=True),
    "float_type": _number(whole=False),
    "float_parsing": _number(whole=False),
    "bool_type": _boolean,
    "bool_parsing": _boolean,
    "dict_type": _mapping,
    "model_type": _mapping,
    "model_attributes_type": _mapping,
    "list_type": _list,
    "tuple_type": _list,
    "set_type": _list,
    "frozen_set_type": _list,
    "too_short": _too_short,
    "too_long": _too_long,
    "literal_error": _choice,
    "enum": _choice,
    "greater_than": _bound("too small: must be more than", "gt"),
    "greater_than_equal": _bound("too small: the least allowed is", "ge"),
    "less_than": _bound("too large: must be less than", "lt"),
    "less_than_equal": _bound("too large: the most allowed is", "le"),
    "multiple_of": _bound("must be a multiple of", "multiple_of"),
    "union_tag_invalid": lambda e: _choice(replace(e, ctx={"expected": e.ctx["expected_tags"]}, got=e.ctx["tag"])),
    "union_tag_not_found": _no_tag,
    "value_error": _own,
    "assertion_error": _own,
}


def problem(item: ErrorDetails, root: type[BaseModel]) -> str:
    """One pydantic error in the words of someone writing YAML: what is wrong and what to write instead."""
    loc = tuple(item["loc"])
    keys = [k for k in loc if k != "[key]"]
    error = _Error(kind=item["type"], ctx=item.get("ctx") or {}, got=item.get("input"),
                   key=keys[-1] if keys else None, slot=slot_at(loc, root), root=root, message=str(item["msg"]))
    wording = _WORDING.get(error.kind)
    if wording is not None:
        return wording(error)
    return f"not accepted here: write {error.wants} instead{error.found}"
