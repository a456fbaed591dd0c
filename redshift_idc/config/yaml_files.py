"""Reading the YAML files: strictly (a duplicate key is an error), and `config/<name>.yaml` layered over the
files it `extends`, each value remembering the file that set it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from redshift_idc import project
from redshift_idc.config.error_wording import yaml_value
from redshift_idc.config.errors import ConfigError, Origins, not_a_mapping
from redshift_idc.config.yaml_syntax import DuplicateKeyError, describe

CONFIG_DIR = project.config_dir()  # the project's own; readers ask `project` at call time


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error instead of last-one-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKeyError(key, seen[key], key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly (duplicate keys are errors), as a ConfigError naming the file, the line and
    the column (`config/demo.yaml:12:3: ...`)."""
    shown = project.shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {error.start + 1}): save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as error:
        where, words = describe(error, text)
        at = f"{shown}:{where.line}:{where.column}" if where is not None else str(shown)
        raise ConfigError(f"{at}: not valid YAML: {words}") from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise ConfigError(f"{shown}:{line}:{column}: not valid YAML: the control character #x{error.character:04x} "
                          "cannot appear in YAML: remove it") from None


# --- environments and `extends` ------------------------------------------------------------------
#
# `extends: <other>` as a top-level key of `config/<name>.yaml` deep-merges the file over
# `config/<other>.yaml` (which may extend another in turn): mappings merge key by key, recursively;
# lists and scalars (`null` included) replace what the base set. Files whose name starts with `_` are
# bases only, never environments. Each leaf of the merged document remembers the file that set it, so a
# problem set by a base is reported with `[set in <base file>]`.

EXTENDS_KEY = "extends"
BASE_PREFIX = "_"
_EXTENDS_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")


def _record(value: Any, source: Path, origins: Origins, path: tuple[str, ...]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _record(item, source, origins, (*path, str(key)))
    else:
        origins[path] = source


def merge_layer(target: dict[str, Any], layer: Mapping[str, Any], source: Path, origins: Origins,
                path: tuple[str, ...] = ()) -> None:
    """Deep-merge `layer` (read from `source`) into `target`: mappings recursively, anything else replaces."""
    for key, value in layer.items():
        here = (*path, str(key))
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            origins.pop(here, None)  # an empty mapping a base set is a leaf until something merges into it
            merge_layer(current, value, source, origins, here)
            continue
        for stale in [p for p in origins if p[:len(here)] == here]:
            del origins[stale]
        target[key] = _plain(value)
        _record(value, source, origins, here)


def _plain(value: Any) -> Any:
    """A copy made of dicts and lists only, so later layers can merge into it."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _read_layer(path: Path, name: str) -> tuple[dict[str, Any], str | None]:
    """One file of an `extends` chain: its settings without `extends`, and the name it extends (if any)."""
    data = read_yaml(path)
    data = {} if data is None else data
    shown = project.shown(path)
    if not isinstance(data, Mapping):
        raise not_a_mapping(path, data, "region: us-east-1")
    if "name" in data:
        raise ConfigError(f"{shown}: name: unknown key; an environment's name is its file name ('{name}'): remove it")
    layer = {k: v for k, v in data.items() if k != EXTENDS_KEY}
    if EXTENDS_KEY not in data:
        return layer, None
    base = data[EXTENDS_KEY]
    if not isinstance(base, str) or not _EXTENDS_NAME.match(base):
        raise ConfigError(f"{shown}: {EXTENDS_KEY}: expected the name of another file in {project.shown(path.parent)}, "
                          f"without '.yaml' (e.g. '{BASE_PREFIX}shared') (found: {yaml_value(base)})")
    return layer, base


def read_environment_layers(name: str, config_dir: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """`config/<name>.yaml` and the files it extends, base first; cycles and missing bases are errors."""
    config_dir = config_dir or project.config_dir()
    chain: list[Path] = []
    layers: list[tuple[Path, dict[str, Any]]] = []
    current: str | None = name
    while current is not None:
        path = config_dir / f"{current}.yaml"
        if path in chain:
            cycle = " -> ".join(str(project.shown(p)) for p in [*chain[chain.index(path):], path])
            raise ConfigError(f"{project.shown(chain[0])}: {EXTENDS_KEY}: cycle {cycle}; a file cannot extend itself, "
                              "directly or through others: remove one `extends`")
        if not path.is_file():
            referrer = project.shown(chain[-1])
            bases = ", ".join(sorted(p.stem for p in config_dir.glob(f"{BASE_PREFIX}*.yaml"))) or "none"
            via = (f" (chain: {' -> '.join(str(project.shown(p)) for p in [*chain, path])})" if len(chain) > 1
                   else "")
            raise ConfigError(f"{referrer}: {EXTENDS_KEY}: no such file {project.shown(path)}{via}; extend one of "
                              f"these instead: bases here: {bases}, environments: "
                              f"{', '.join(available_environments(config_dir)) or 'none'}")
        chain.append(path)
        layer, current = _read_layer(path, name)
        layers.append((path, layer))
    return list(reversed(layers))


def available_environments(config_dir: Path | None = None) -> list[str]:
    """Deployable environments: `config/*.yaml` except bases (names starting with `_`)."""
    config_dir = config_dir or project.config_dir()
    return sorted(p.stem for p in config_dir.glob("*.yaml") if not p.stem.startswith(BASE_PREFIX))
