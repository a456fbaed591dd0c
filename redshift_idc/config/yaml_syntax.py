"""PyYAML's syntax errors in YAML's own words: where (`file:line:column`), what is wrong there in terms of
what the author wrote (an indentation, a tab, a quote or bracket left open, a key given twice), and
what to write instead. PyYAML's parser vocabulary (`<block end>`, `<block mapping start>`) never reaches
the author: the parser's state is translated, or worded from the text around the mark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

# What PyYAML's token names stand for, for the wordings that do not recognise the case.
_TOKENS = {
    "<block end>": "the end of an indented block",
    "<block mapping start>": "a key indented differently",
    "<block sequence start>": "a '- ' list item indented differently",
    "<block collection start>": "an indented block",
    "<scalar>": "a value",
    "<stream end>": "the end of the file",
    "<stream start>": "the start of the file",
    "<document start>": "'---'",
    "<document end>": "'...'",
    "<flow mapping start>": "'{'",
    "<flow sequence start>": "'['",
    "<alias>": "an alias (*name)",
    "<anchor>": "an anchor (&name)",
    "<tag>": "a tag (!name)",
}


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping; PyYAML itself would keep the last one silently."""

    def __init__(self, key: Any, first: yaml.Mark, second: yaml.Mark) -> None:
        super().__init__(None, None, f"found duplicate key '{key}'", second)
        self.key = key
        self.first = first


@dataclass(frozen=True)
class Where:
    line: int  # 1-based, as editors count
    column: int


def _at(mark: Any) -> Where:
    return Where(mark.line + 1, mark.column + 1)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _spaces(count: int) -> str:
    return "no indentation" if count == 0 else f"{count} space{'s' if count != 1 else ''}"


def _previous_content_line(lines: list[str], line: int) -> int | None:
    """The 1-based number of the last line before `line` that holds more than blanks or a comment."""
    for number in range(line - 1, 0, -1):
        text = lines[number - 1].strip()
        if text and not text.startswith("#"):
            return number
    return None


def _indentation(lines: list[str], line: int, block: tuple[str, Where] | None = None) -> str:
    """A line indented unlike its neighbours, compared with the line above it and with the block (mapping or
    list) YAML was reading, when that one is indented otherwise."""
    here = _indent(lines[line - 1]) if line <= len(lines) else 0
    others: list[str] = []
    above = _previous_content_line(lines, line)
    if above is not None:
        others.append(f"line {above} ({_spaces(_indent(lines[above - 1]))})")
    if block is not None:
        kind, start = block
        if above is None or (start.line != above and start.column - 1 != _indent(lines[above - 1])):
            others.append(f"the {kind} that starts at line {start.line} ({_spaces(start.column - 1)})")
    if len(others) > 1:
        compared = f"matches neither {' nor '.join(others)}"
    else:
        compared = f"does not match {others[0]} above it" if others else "does not match the lines before it"
    return (f"the indentation of line {line} ({_spaces(here)}) {compared}: indent the keys of one mapping, and the "
            "'- ' items of one list, by the same number of spaces")


def _open_quote(text: str, before: Any) -> tuple[Where, Where] | None:
    """A quoted value that ran over a line end up to `before` (start and end): most often a quote left open,
    which YAML closes at the next quote it finds, lines later."""
    found = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= before.index:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"'):
                spans = token.start_mark.line != token.end_mark.line
                found = (_at(token.start_mark), _at(token.end_mark)) if spans else None
    except yaml.YAMLError:
        pass
    return found


def _quote_before(text: str, mark: Any) -> bool:
    """Whether a quoted value ends on the mark's line, before it (`key: "value" more`)."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= mark.index:
                return False
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"') and token.end_mark.line == mark.line:
                return True
    except yaml.YAMLError:
        return False
    return False


def _colon_in_value(line: str, column: int) -> bool:
    """Whether the ':' at `column` (0-based) follows another `key: ` on its line (`a: b: c`)."""
    head = line[:column]
    return re.search(r"\S: ", head) is not None or re.match(r"\s*- \S+: ", head) is not None


def describe(error: yaml.MarkedYAMLError, text: str) -> tuple[Where | None, str]:
    """Where the YAML in `text` is broken and what to do about it, worded for the file's author."""
    lines = text.splitlines()
    problem = str(error.problem or "")
    context = str(error.context or "")
    mark = error.problem_mark or error.context_mark
    where = _at(mark) if mark is not None else None
    start = _at(error.context_mark) if error.context_mark is not None else None
    if isinstance(error, DuplicateKeyError) and where is not None:
        first = _at(error.first)
        return where, (f"the key '{error.key}' is given twice in one mapping (line {first.line} and line "
                       f"{where.line}): keep one of them")
    if "found character '\\t'" in problem and where is not None:
        return where, ("a tab: YAML indents (and separates a key from its value) with spaces only: replace the tab "
                       "with spaces")
    if (char := re.match(r"found character '(.)' that cannot start any token", problem)) and where is not None:
        value = lines[where.line - 1][where.column - 1:].split(" #")[0].strip() if where.line <= len(lines) else ""
        return where, (f"a value cannot start with '{char.group(1)}' unless it is quoted: quote it, e.g. "
                       f"\"{value or char.group(1)}\"")
    if "while scanning a quoted scalar" in context and "end of stream" in problem and start is not None:
        return start, (f"the quote opened at line {start.line}, column {start.column} is never closed: close it on "
                       "the same line, e.g. key: \"value\"")
    if "quoted scalar" in context and "escape character" in problem and where is not None:
        return where, ("a backslash in double quotes starts an escape such as \\n: write \\\\ for a backslash, or use "
                       "single quotes")
    if "while scanning a simple key" in context and start is not None:
        return start, (f"line {start.line} is neither `key: value` nor a '- ' list item: add ': ' after the key, or "
                       "indent it further to continue the value above it")
    if "mapping values are not allowed here" in problem and mark is not None and where is not None:
        line = lines[mark.line] if mark.line < len(lines) else ""
        if _colon_in_value(line, mark.column):
            return where, ("this value holds ': ', which YAML reads as the start of another key: quote the value, "
                           "e.g. key: \"a: b\"")
        return where, _indentation(lines, where.line)
    if (flow := re.match(r"while parsing a flow (sequence|mapping)", context)) and start is not None and where:
        opener, closer, example = ("[", "]", "[a, b]") if flow.group(1) == "sequence" else ("{", "}", "{key: value}")
        if "stream end" not in problem and where.line == start.line:
            return where, (f"the '{opener}' at column {start.column} holds a ':' outside quotes: quote the item "
                           f"that holds it, or close the '{opener}' with '{closer}' before it")
        at_end = "stream end" in problem  # nothing after it to point at: point at what is left open
        return start if at_end else where, (f"the '{opener}' opened at line {start.line}, column {start.column} is "
                                            f"not closed: close it with '{closer}' on the same line, e.g. {example}")
    if "expected <block end>" in problem and mark is not None and where is not None:
        if (quote := _open_quote(text, mark)) is not None:
            opened, closed = quote
            return where, (f"the quote opened at line {opened.line}, column {opened.column} closes only at line "
                           f"{closed.line}, column {closed.column}: close it on the line it opens")
        found = problem.rsplit("but found ", 1)[-1].strip("'")
        if found in ("]", "}"):
            return where, f"this '{found}' closes nothing that is open: remove it"
        if found == "<scalar>" and _quote_before(text, mark):
            return where, ("text follows a closing quote on this line: put the whole value inside the quotes, "
                           "e.g. key: \"value and more\"")
        if found == "-" and start is not None:
            return where, (f"a '- ' list item among the keys of the mapping at line {start.line}: put the list under "
                           "a key of its own (key:, then the items indented below it), or write it as key: value")
        kind = "list" if "block collection" in context else "mapping"
        return where, _indentation(lines, where.line, (kind, start) if start is not None else None)
    if "expected a single document" in context and where is not None:
        return where, "a second document starts here ('---'): a file holds one document: remove the '---' line"
    if (alias := re.match(r"found undefined alias '(.*)'", problem)) and where is not None:
        return where, (f"'*{alias.group(1)}' refers to an anchor '&{alias.group(1)}' defined nowhere before it: "
                       f"quote the value if the '*' is text, e.g. \"*{alias.group(1)}\"")
    if "could not determine a constructor for the tag" in problem and where is not None:
        return where, "YAML tags (!name) are not used here: remove the tag, or quote the value if the '!' is text"
    words = " ".join(part for part in (context, problem) if part)
    for token, meaning in _TOKENS.items():
        words = words.replace(f"'{token}'", meaning).replace(token, meaning)
    return where, f"{words}: check the indentation and the quotes of this line and of the line before it"
