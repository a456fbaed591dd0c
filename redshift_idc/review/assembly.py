"""Reading a synthesized cloud assembly for the review: its stacks, their templates and assets, and each access
model's compiled document with the preview inputs synth wrote beside it. An assembly directory is either one
cloud assembly (`manifest.json` inside) or a directory of them, one per environment (`cdk.out/<env>/`, as
`make synth-all` writes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redshift_idc.access.preview.inputs import INPUTS_SUFFIX
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.reconcile_request import ScriptEntry

ACCESS_MODEL_TYPE = "Custom::AccessModel"


class ReviewError(ConfigError):
    """An assembly directory that cannot be read (exit code 2, message without traceback)."""


@dataclass(frozen=True)
class AccessModelAsset:
    """One `Custom::AccessModel` resource and the compiled model document it points at."""

    stack: str
    logical_id: str
    properties: dict[str, Any]
    desired: AccessState
    scripts: list[ScriptEntry]
    preview: dict[str, Any] | None = None  # the stack's PreviewInputs as synth wrote them (None: not written)
    scope: Scope = field(default_factory=Scope)  # the declared tables and those prune may lift (prune only)

    @property
    def name(self) -> str:
        return str(self.properties.get("ModelName", "?"))


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template: dict[str, Any]
    assets: dict[str, str]  # asset display name (construct path) -> asset id (content hash)


@dataclass(frozen=True)
class Assembly:
    path: Path
    stacks: dict[str, StackArtifact]
    access_models: dict[tuple[str, str], AccessModelAsset]

    @property
    def asset_ids(self) -> set[str]:
        return {asset for stack in self.stacks.values() for asset in stack.assets.values()}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReviewError(f"{path}: cannot read: {error}") from None


def read_assembly(path: Path) -> Assembly:
    try:
        return _read_assembly(path)
    except (KeyError, TypeError, AttributeError) as error:
        raise ReviewError(f"{path}: not a cloud assembly this tool understands ({type(error).__name__}: {error})"
                          ) from None


def _read_assembly(path: Path) -> Assembly:
    manifest = _read_json(path / "manifest.json")
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    stacks: dict[str, StackArtifact] = {}
    asset_files: dict[str, str] = {}  # asset id -> file in the assembly (file assets only)
    for name, artifact in sorted(artifacts.items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = _read_json(path / artifact["properties"]["templateFile"])
        assets: dict[str, str] = {}
        asset_artifact = artifacts.get(f"{name}.assets", {})
        if asset_artifact.get("type") == "cdk:asset-manifest":
            files = _read_json(path / asset_artifact["properties"]["file"]).get("files", {})
            for asset_id, entry in sorted(files.items()):
                source = entry.get("source", {})
                if source.get("path") == artifact["properties"]["templateFile"]:
                    continue  # the template itself
                assets[str(entry.get("displayName") or source.get("path") or asset_id)] = asset_id
                if source.get("packaging") == "file" and source.get("path"):
                    asset_files[asset_id] = str(source["path"])
        stacks[name] = StackArtifact(name, template, assets)
    models: dict[tuple[str, str], AccessModelAsset] = {}
    for stack in stacks.values():
        for logical_id, resource in sorted(stack.template.get("Resources", {}).items()):
            if resource.get("Type") != ACCESS_MODEL_TYPE:
                continue
            properties = resource.get("Properties", {})
            model_hash = str(properties.get("ModelHash", ""))
            document = _read_json(path / asset_files.get(model_hash, f"asset.{model_hash}.json"))
            inputs = path / f"{stack.name}{INPUTS_SUFFIX}"
            models[(stack.name, logical_id)] = AccessModelAsset(
                stack.name, logical_id, properties, AccessState.from_json(document["desired"]),
                list(document.get("scripts", [])), _read_json(inputs) if inputs.is_file() else None,
                Scope.from_json(document.get("scope")))
    return Assembly(path, stacks, models)


def find_assemblies(root: Path, environment: str | None = None) -> dict[str, Path]:
    """Environment name -> assembly directory. A root that is itself an assembly is one environment
    (named by `environment`, else 'default'); otherwise every sub-directory holding a manifest."""
    if (root / "manifest.json").is_file():
        return {environment or "default": root}
    if not root.is_dir():
        raise ReviewError(f"{root}: no such directory; synthesize first (make synth-all)")
    found = {p.name: p for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()}
    if environment is not None:
        return {environment: found[environment]} if environment in found else {}
    return found
