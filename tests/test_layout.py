"""The layout's rules, read from the code's imports (DESIGN.md, "Layout to grow into"; README, "Layout").

A product module is any `.py` under `redshift_idc/` and `app.py`. Every import counts, also one inside a
function or under `TYPE_CHECKING`: each is a dependency a reader follows and a refactoring must keep legal.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "redshift_idc"
MAX_LINES = 600
MAX_TOP_LEVEL_MODULES = 5
# What the Lambda runtime offers besides the standard library; and what the client may need.
RUNTIME_THIRD_PARTY = {"boto3", "botocore"}
CLIENT_THIRD_PARTY = {"boto3", "botocore", "jwt"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_modules() -> dict[str, Path]:
    paths = [*sorted((ROOT / PACKAGE).rglob("*.py")), ROOT / "app.py"]
    return {module_name(p): p for p in paths if "__pycache__" not in p.parts}


def imported_names(path: Path) -> Iterator[str]:
    yield from imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(text: str, name: str, is_package: bool) -> Iterator[str]:
    """Every module an import statement names, absolute; `from a import b` also names `a.b` (a module or not:
    the graph keeps only names that are modules)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@cache
def graph() -> dict[str, set[str]]:
    """Product module -> the product modules it imports."""
    modules = product_modules()
    return {name: {n for n in imported_names(path) if n in modules and n != name}
            for name, path in modules.items()}


def third_party(name: str) -> set[str]:
    return {n.split(".")[0] for n in imported_names(product_modules()[name])
            if n.split(".")[0] not in sys.stdlib_module_names and n.split(".")[0] != PACKAGE
            and n.split(".")[0] != "__future__"}


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph()[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def find_cycle() -> list[str] | None:
    """One import cycle among product modules, or None (depth-first search with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        colour[name] = 1
        stack.append(name)
        for target in sorted(graph()[name]):
            if colour.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in colour and (found := visit(target)) is not None:
                return found
        stack.pop()
        colour[name] = 2
        return None

    for name in sorted(graph()):
        if name not in colour and (found := visit(name)) is not None:
            return found
    return None


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_import_reader_sees_imports_inside_functions_relative_ones_and_type_checking_ones() -> None:
    text = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import redshift_idc.review.summary\n"
            "def f():\n    from redshift_idc.runtime import planner\n    from . import plan\n"
            "    from ..access.model import load_model\n")
    names = set(imports_in(text, "redshift_idc.cli.probe", is_package=False))
    assert {"redshift_idc.runtime.planner", "redshift_idc.cli.plan", "redshift_idc.access.model",
            "redshift_idc.review.summary"} <= names


def test_no_import_cycle_in_product_code() -> None:
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cdk_side_reaches_no_cli_module() -> None:
    cdk_side = [n for n in graph() if in_package(n, f"{PACKAGE}.cdk") or n == "app"]
    assert len(cdk_side) > 10
    offenders = {n: sorted(m for m in reachable(n) if in_package(m, f"{PACKAGE}.cli")) for n in cdk_side}
    assert {n: m for n, m in offenders.items() if m} == {}


def test_the_runtime_imports_nothing_of_the_package_outside_itself_and_only_boto3() -> None:
    runtime = [n for n in graph() if in_package(n, f"{PACKAGE}.runtime")]
    assert len(runtime) > 5
    outside = {n: sorted(m for m in graph()[n] if not in_package(m, f"{PACKAGE}.runtime")) for n in runtime}
    assert {n: m for n, m in outside.items() if m} == {}
    foreign = {n: sorted(third_party(n) - RUNTIME_THIRD_PARTY) for n in runtime}
    assert {n: m for n, m in foreign.items() if m} == {}


def test_the_client_imports_only_the_standard_library_boto3_and_pyjwt() -> None:
    client = [n for n in graph() if in_package(n, f"{PACKAGE}.client")]
    assert client
    outside = {n: sorted(m for m in graph()[n] if not in_package(m, f"{PACKAGE}.client")) for n in client}
    assert {n: m for n, m in outside.items() if m} == {}
    foreign = {n: sorted(third_party(n) - CLIENT_THIRD_PARTY) for n in client}
    assert {n: m for n, m in foreign.items() if m} == {}


def test_few_modules_directly_in_the_package() -> None:
    direct = sorted(p.name for p in (ROOT / PACKAGE).glob("*.py"))
    assert len(direct) <= MAX_TOP_LEVEL_MODULES, direct


@pytest.mark.parametrize("name", sorted(product_modules()))
def test_no_product_module_over_the_line_limit(name: str) -> None:
    lines = len(product_modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{product_modules()[name].relative_to(ROOT)}: {lines} lines; split it by concern"
