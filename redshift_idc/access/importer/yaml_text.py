"""The model written as YAML by hand: block style for sections, policies and providers (they carry comments),
flow style for everything flat, every scalar quoted as PyYAML's resolver needs; checked to load back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


def _scalar(value: Any) -> str:
    """One YAML scalar on one line, quoted wherever YAML 1.1 would read it as something else (yes, on, null,
    0123, 1_000, dates, `a: b`, a leading `#` or `-`): PyYAML's own resolver decides. Text with line breaks or
    other control characters is double-quoted with escapes, so every scalar stays on its line."""
    text = str(value) if not isinstance(value, bool | int) else None
    style = '"' if text is not None and any(ord(c) < 32 or c in "\x7f\u2028\u2029\x85" for c in text) else None
    dumped = yaml.safe_dump(value, allow_unicode=True, width=2**31, default_style=style)
    return dumped.removesuffix("\n...\n").removesuffix("\n")


def _flow(value: Any) -> str:
    """A list or mapping in flow style on one line (`[a, b]`, `{table: x, to: [y]}`), scalars quoted as
    flow context needs (a `,` or `[` inside a name)."""
    if isinstance(value, str | bool | int) or value is None:
        return _scalar(value)
    if _needs_escapes(value):
        return yaml.safe_dump(value, allow_unicode=True, width=2**31, default_flow_style=True,
                              sort_keys=False, default_style='"').removesuffix("\n")
    return yaml.safe_dump(value, allow_unicode=True, width=2**31, default_flow_style=True,
                          sort_keys=False).removesuffix("\n")


def _needs_escapes(value: Any) -> bool:
    if isinstance(value, str):
        return any(ord(c) < 32 or c in "\x7f\u2028\u2029\x85" for c in value)
    if isinstance(value, dict):
        return any(_needs_escapes(k) or _needs_escapes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_needs_escapes(v) for v in value)
    return False


def _is_flat(value: Any) -> bool:
    """Scalars, lists of scalars, and mappings of those: written on one line."""
    if isinstance(value, dict):
        return all(not isinstance(v, dict | list) or (isinstance(v, list) and all(not isinstance(i, dict | list)
                                                                                  for i in v))
                   or (isinstance(v, dict) and _is_flat(v)) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(i, dict | list) for i in value)
    return True


class _Emitter:
    """Block style for the sections and for policies and providers (they carry comments), flow style for
    everything flat. Comments are keyed by the path of the key or list item they precede."""

    def __init__(self, comments: Mapping[Path_, list[str]], block: Callable[[Path_], bool]) -> None:
        self.comments = comments
        self.block = block

    def _comment(self, path: Path_, indent: int) -> list[str]:
        return [f"{' ' * indent}# {line}".rstrip() for line in self.comments.get(path, [])]

    def mapping(self, data: Mapping[str, Any], path: Path_, indent: int) -> list[str]:
        lines: list[str] = []
        for key, value in data.items():
            here = (*path, key)
            lines += self._comment(here, indent)
            head = f"{' ' * indent}{_scalar(key)}:"
            if isinstance(value, dict) and (self.block(here) or not _is_flat(value)):
                lines.append(head)
                lines += self.mapping(value, here, indent + 2)
            elif isinstance(value, list) and not _is_flat(value):
                lines.append(head)
                lines += self.sequence(value, here, indent + 2)
            else:
                lines.append(f"{head} {_flow(value)}")
        return lines

    def sequence(self, items: list[Any], path: Path_, indent: int) -> list[str]:
        lines: list[str] = []
        for index, item in enumerate(items):
            here = (*path, index)
            lines += self._comment(here, indent)
            if isinstance(item, dict) and (self.block(here) or not _is_flat(item)):
                body = self.mapping(item, here, indent + 2)
                assert body and not body[0].lstrip().startswith("#"), "comment the item, not its first key"
                lines.append(f"{' ' * indent}- {body[0].lstrip()}")
                lines += body[1:]
            else:
                lines.append(f"{' ' * indent}- {_flow(item)}")
        return lines


def emit(data: Mapping[str, Any], comments: Mapping[Path_, list[str]], header: Iterable[str],
         block: Callable[[Path_], bool]) -> str:
    """The model as YAML, checked to load back to exactly `data` (a quoting mistake is an error here, not a
    model that means something else)."""
    lines = [f"# {line}".rstrip() for line in header]
    emitter = _Emitter(comments, block)
    for key, value in data.items():
        lines.append("")
        lines += emitter.mapping({key: value}, (), 0)
    text = "\n".join(lines) + "\n"
    loaded = yaml.safe_load(text)
    if loaded != dict(data):
        raise AssertionError("the written YAML does not load back to the imported model")  # a bug, not input
    return text
