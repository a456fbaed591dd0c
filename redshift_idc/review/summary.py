"""`python -m redshift_idc review`: the markdown a pull request shows, from two synthesized cloud assemblies.

Both sides are synthesized offline (the base branch into e.g. `cdk.out-base/`, the pull request into
`cdk.out/`), so the summary needs no AWS credentials. Per environment and stack it lists the resources
added, removed and modified (with the top-level properties that changed; IAM policies and trust policies
in full, before and after), the outputs that changed, and what the access model's deploy would run:
the SQL that takes a warehouse converged to the base branch's model to this one (planned with every base
object marked as managed in the ledger), and the SQL of a first deploy.

Noise is left out: asset hashes (Lambda code and the access-model document are content-addressed, so
`S3Key`, `ModelKey`, `ModelHash` and the hash output change with any content change; the assets that
changed are named instead), `AWS::CDK::Metadata`, `aws:*` resource metadata (construct paths, asset
staging) and ordering-only `DependsOn`.
Everything is sorted, so the same two assemblies always give the same text.

An assembly directory is either one cloud assembly (`manifest.json` inside) or a directory of them, one
per environment (`cdk.out/<env>/`, as `make synth-all` writes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redshift_idc.access.preview import INPUTS_SUFFIX, PreviewInputs
from redshift_idc.access.transition import TransitionVerdict, check_plan
from redshift_idc.cli.plan import render_for_review
from redshift_idc.config.errors import ConfigError
from redshift_idc.review import preview_diff
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.ledger import DEFAULT_LEDGER_SCHEMA
from redshift_idc.runtime.planner import Ledger, Plan, Scope, plan
from redshift_idc.runtime.reconciler import ScriptEntry

ACCESS_MODEL_TYPE = "Custom::AccessModel"
IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})
# Resource attributes besides Properties that change what CloudFormation does.
RESOURCE_ATTRIBUTES = ("Condition", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy")
# Top-level properties that are IAM documents (identity, trust and resource policies): always shown in full.
IAM_PROPERTIES = frozenset({"AssumeRolePolicyDocument", "KeyPolicy", "ManagedPolicyArns", "PermissionsBoundary",
                            "Policies", "PolicyDocument", "ResourcePolicy"})
ASSET_HASH = "<asset-hash>"
INLINE_LIMIT = 80  # longest compact JSON value shown inline as `before` -> `after`
SQL_LINE_LIMIT = 300  # longer plans are cut (`make plan` prints them whole) ...
COMMENT_LIMIT = 60_000  # ... and a pull request comment holds at most 65,536 characters
_HASH = re.compile(r"[0-9a-f]{64}")


class ReviewError(ConfigError):
    """An assembly directory that cannot be read (exit code 2, message without traceback)."""


# ------------------------------------------------------------------------------------------ reading


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


# ------------------------------------------------------------------------------------------ diffing


def _normalize(value: Any, hashes: set[str]) -> Any:
    """The value with every asset hash replaced by a placeholder."""
    if isinstance(value, str):
        return _HASH.sub(lambda m: ASSET_HASH if m.group() in hashes else m.group(), value)
    if isinstance(value, list):
        return [_normalize(v, hashes) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v, hashes) for k, v in value.items()}
    return value


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """Top-level properties, resource attributes and the metadata people write (e.g. cdk-nag acknowledgements)."""
    parts: dict[str, Any] = dict(resource.get("Properties", {}))
    for attribute in RESOURCE_ATTRIBUTES:
        if attribute in resource:
            parts[attribute] = resource[attribute]
    for key, value in resource.get("Metadata", {}).items():
        if not key.startswith("aws:"):  # construct path and asset staging, not deployed: cdk_nag and others are
            parts[f"Metadata.{key}"] = value
    return parts


@dataclass(frozen=True)
class PropertyChange:
    name: str
    before: Any  # None: absent
    after: Any


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    changes: tuple[PropertyChange, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)  # added resources: for the IAM documents


@dataclass
class StackDiff:
    name: str
    status: str  # "added", "removed", "modified", "unchanged"
    added: list[ResourceChange] = field(default_factory=list)
    removed: list[ResourceChange] = field(default_factory=list)
    modified: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)  # assets with new content (display names)


def _resources(template: dict[str, Any], hashes: set[str]) -> dict[str, dict[str, Any]]:
    return {logical_id: _normalize(resource, hashes) for logical_id, resource in template.get("Resources", {}).items()
            if resource.get("Type") not in IGNORED_TYPES}


def diff_stack(name: str, base: StackArtifact | None, head: StackArtifact | None, hashes: set[str]) -> StackDiff:
    before = _resources(base.template, hashes) if base else {}
    after = _resources(head.template, hashes) if head else {}
    status = "added" if base is None else "removed" if head is None else "modified"
    result = StackDiff(name, status)
    for logical_id in sorted(before.keys() | after.keys()):
        old, new = before.get(logical_id), after.get(logical_id)
        if old is not None and new is not None and old.get("Type") == new.get("Type"):
            old_parts, new_parts = _comparable(old), _comparable(new)
            changes = tuple(PropertyChange(key, old_parts.get(key), new_parts.get(key))
                            for key in sorted(old_parts.keys() | new_parts.keys())
                            if old_parts.get(key) != new_parts.get(key))
            if changes:
                result.modified.append(ResourceChange(logical_id, str(new["Type"]), changes))
            continue
        if old is not None:
            result.removed.append(ResourceChange(logical_id, str(old["Type"])))
        if new is not None:
            result.added.append(ResourceChange(logical_id, str(new["Type"]), properties=new.get("Properties", {})))
    old_outputs = _normalize(base.template.get("Outputs", {}), hashes) if base else {}
    new_outputs = _normalize(head.template.get("Outputs", {}), hashes) if head else {}
    if base and head:
        result.outputs = [PropertyChange(key, old_outputs.get(key), new_outputs.get(key))
                          for key in sorted(old_outputs.keys() | new_outputs.keys())
                          if old_outputs.get(key) != new_outputs.get(key)]
        result.assets = sorted(display for display, asset_id in head.assets.items()
                               if display in base.assets and base.assets[display] != asset_id)
        if not (result.added or result.removed or result.modified or result.outputs or result.assets):
            result.status = "unchanged"
    return result


@dataclass(frozen=True)
class AccessModelDiff:
    stack: str
    name: str
    status: str  # "added", "removed", "modified"
    change: Plan  # what the deploy of the head runs on a warehouse converged to the base
    change_scripts: list[ScriptEntry]
    first_deploy: Plan | None  # head from empty (None when the model leaves)
    first_scripts: list[ScriptEntry]
    notes: tuple[str, ...] = ()
    who: preview_diff.WhoSeesWhat | None = None  # None: neither side has preview inputs (older assemblies)
    transition: TransitionVerdict | None = None  # `change` replayed batch by batch (None: nothing to replay)


def _transition(asset: AccessModelAsset, before: AccessState, change: Plan) -> TransitionVerdict | None:
    """The transition check of `change` from `before`, on the asset's personas and sample rows (without them,
    tables are judged by their restrictions only)."""
    if not change.statements:
        return None
    inputs = None
    if asset.preview is not None:
        try:
            inputs = PreviewInputs.from_json(asset.preview, asset.scripts)
        except (KeyError, TypeError, ValueError, AttributeError):
            inputs = None  # who_sees_what reports unreadable inputs
    return check_plan(inputs, before, change, asset.name, str(asset.properties.get("LedgerSchema") or
                                                                 DEFAULT_LEDGER_SCHEMA))


def _ledger(state: AccessState) -> Ledger:
    """Every object of a converged state, as the reconciler's ledger records it."""
    return {(item.KIND, item.key(state.case_sensitive)): item.fingerprint(state.case_sensitive) for item in state}


def who_sees_what(base: AccessModelAsset | None, head: AccessModelAsset | None) -> preview_diff.WhoSeesWhat | None:
    """The base's rules against the head's on the head's personas and sample rows (the base's when the model
    leaves; a retained model keeps its objects, so nobody's access changes)."""
    if head is None:
        assert base is not None
        if base.preview is None or str(base.properties.get("RemovalPolicy", "destroy")).lower() == "retain":
            return None
        empty = AccessState(case_sensitive=base.desired.case_sensitive)
        return preview_diff.compare(PreviewInputs.from_json(base.preview, base.scripts), base.desired, empty)
    if head.preview is None:
        return None if base is None or base.preview is None else preview_diff.WhoSeesWhat(
            0, 0, note=f"the head assembly has no {head.stack}{INPUTS_SUFFIX}; synthesize it with this version")
    try:
        inputs = PreviewInputs.from_json(head.preview, head.scripts)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ReviewError(f"{head.stack}{INPUTS_SUFFIX}: not preview inputs this tool understands "
                          f"({type(error).__name__}: {error})") from None
    return preview_diff.compare(inputs, base.desired if base else None, head.desired)


def diff_access_model(base: AccessModelAsset | None, head: AccessModelAsset | None) -> AccessModelDiff:
    """Plan the head's model against the base's, as if a warehouse had converged to the base."""
    who = who_sees_what(base, head)
    if head is None:
        assert base is not None
        retained = str(base.properties.get("RemovalPolicy", "destroy")).lower() == "retain"
        empty = AccessState(case_sensitive=base.desired.case_sensitive)
        removal = Plan() if retained else plan(empty, base.desired, _ledger(base.desired))
        note = ("removal_policy: retain: deleting the custom resource leaves roles, grants and policies in place"
                if retained else "deleting the custom resource removes every object in its ledger")
        return AccessModelDiff(base.stack, base.name, "removed", removal, [], None, [], (note,), who,
                               _transition(base, base.desired, removal))
    case_sensitive = head.desired.case_sensitive
    current = AccessState.of(base.desired, case_sensitive) if base else AccessState(case_sensitive=case_sensitive)
    prune = str(head.properties.get("Prune", "false")).lower() == "true"
    applied = {s["Name"]: s["Checksum"] for s in base.scripts} if base else {}
    pending = [s for s in head.scripts if applied.get(s["Name"]) != s["Checksum"]]
    notes: list[str] = []
    if base is not None:
        for key in ("ModelName", "WorkgroupName", "Database"):
            if base.properties.get(key) != head.properties.get(key):
                notes.append(f"{key} changes from {base.properties.get(key)!r} to {head.properties.get(key)!r}: "
                             "a new physical id, so CloudFormation creates a new custom resource and deletes the old")
        if base.desired.case_sensitive != case_sensitive:
            notes.append(f"case_sensitive_identifiers changes to {str(case_sensitive).lower()}")
    change = plan(head.desired, current, _ledger(current), prune=prune, scope=head.scope)
    return AccessModelDiff(
        head.stack, head.name, "modified" if base else "added", change, pending,
        plan(head.desired, AccessState(case_sensitive=case_sensitive), {}, prune=prune, scope=head.scope),
        head.scripts, tuple(notes), who, _transition(head, current, change))


@dataclass
class EnvironmentDiff:
    name: str
    status: str  # "added", "removed", "modified"
    stacks: list[StackDiff]
    access_models: list[AccessModelDiff]


def diff_assemblies(name: str, base: Assembly | None, head: Assembly | None) -> EnvironmentDiff:
    hashes = (base.asset_ids if base else set()) | (head.asset_ids if head else set())
    base_stacks = base.stacks if base else {}
    head_stacks = head.stacks if head else {}
    stacks = [diff_stack(stack, base_stacks.get(stack), head_stacks.get(stack), hashes)
              for stack in sorted(base_stacks.keys() | head_stacks.keys())]
    base_models = base.access_models if base else {}
    head_models = head.access_models if head else {}
    models = [diff_access_model(base_models.get(key), head_models.get(key))
              for key in sorted(base_models.keys() | head_models.keys())]
    status = "added" if base is None else "removed" if head is None else "modified"
    return EnvironmentDiff(name, status, stacks, models)


def diff_directories(base: Path, head: Path, environment: str | None = None) -> list[EnvironmentDiff]:
    base_found = find_assemblies(base, environment)
    head_found = find_assemblies(head, environment)
    if not base_found and not head_found:
        which = f"environment '{environment}'" if environment else "cloud assemblies"
        raise ReviewError(f"no {which} in {base} or {head}; synthesize first (make synth-all)")
    return [diff_assemblies(name,
                            read_assembly(base_found[name]) if name in base_found else None,
                            read_assembly(head_found[name]) if name in head_found else None)
            for name in sorted(base_found.keys() | head_found.keys())]


# ---------------------------------------------------------------------------------------- rendering


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _code(text: str) -> str:
    """Inline code, with a fence longer than any backtick run inside."""
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _block(text: str, language: str) -> list[str]:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def _json_block(value: Any) -> list[str]:
    return _block("(absent)" if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
                  "json")


def _sql_block(text: str) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    if len(lines) > SQL_LINE_LIMIT:
        lines = [*lines[:SQL_LINE_LIMIT],
                 f"-- ... {len(lines) - SQL_LINE_LIMIT} more lines: run `make plan` or see the build artifacts"]
    return _block("\n".join(lines), "sql")


@dataclass
class Totals:
    added: int = 0
    modified: int = 0
    removed: int = 0
    statements: int = 0
    scripts: int = 0
    stacks_added: int = 0
    stacks_removed: int = 0

    def headline(self) -> str:
        text = (f"{_plural(self.added, 'resource')} added, {self.modified} modified, {self.removed} removed; "
                f"access model: {_plural(self.statements, 'statement')}")
        if self.scripts:
            text += f", {_plural(self.scripts, 'script')}"
        if self.stacks_added or self.stacks_removed:
            text += f"; stacks: {self.stacks_added} added, {self.stacks_removed} removed"
        return text


def totals(environments: Iterable[EnvironmentDiff]) -> Totals:
    result = Totals()
    for environment in environments:
        for stack in environment.stacks:
            result.added += len(stack.added)
            result.modified += len(stack.modified)
            result.removed += len(stack.removed)
            result.stacks_added += stack.status == "added"
            result.stacks_removed += stack.status == "removed"
        for model in environment.access_models:
            result.statements += len(model.change.statements)
            result.scripts += len(model.change_scripts)
    return result


def _iam_documents(resource: ResourceChange) -> list[str]:
    lines: list[str] = []
    for name in sorted(IAM_PROPERTIES & resource.properties.keys()):
        lines += ["", f"{_code(resource.logical_id)} {_code(name)}:", "", *_json_block(resource.properties[name])]
    return lines


def _render_changes(logical_id: str, changes: Iterable[PropertyChange]) -> tuple[list[str], list[str]]:
    """(one short text per change, the before/after blocks that follow the list). IAM documents are shown
    in full; other values inline when short, else in a collapsed block."""
    parts: list[str] = []
    blocks: list[str] = []
    for change in changes:
        before = "(absent)" if change.before is None else _compact(change.before)
        after = "(absent)" if change.after is None else _compact(change.after)
        if change.name in IAM_PROPERTIES:
            parts.append(f"{_code(change.name)} (IAM, below)")
            blocks += ["", f"{_code(logical_id)} {_code(change.name)} before:", "", *_json_block(change.before),
                       "", "after:", "", *_json_block(change.after)]
        elif len(before) <= INLINE_LIMIT and len(after) <= INLINE_LIMIT:
            parts.append(f"{_code(change.name)} {_code(before)} → {_code(after)}")
        else:
            parts.append(f"{_code(change.name)} (below)")
            blocks += ["", f"<details><summary>{logical_id} {change.name}: before and after</summary>", "",
                       *_json_block(change.before), "", *_json_block(change.after), "", "</details>"]
    return parts, blocks


def _resource_table(resources: list[ResourceChange]) -> list[str]:
    return ["| logical id | type |", "|---|---|",
            *(f"| {_code(r.logical_id)} | {_code(r.type)} |" for r in resources)]


def render_stack(stack: StackDiff, new_stack_iam: bool = True) -> list[str]:
    lines = [f"#### Stack {_code(stack.name)}" + {"added": " (new)", "removed": " (removed)"}.get(stack.status, ""),
             ""]
    if stack.status in ("added", "removed"):
        resources = stack.added if stack.status == "added" else stack.removed
        what = "creates" if stack.status == "added" else "deletes"
        lines += [f"The deploy {what} this stack's {_plural(len(resources), 'resource')}.", "",
                  f"<details><summary>{_plural(len(resources), 'resource')}</summary>", "",
                  *_resource_table(resources)]
        if stack.status == "added" and new_stack_iam:
            for resource in stack.added:
                lines += _iam_documents(resource)
        elif stack.status == "added":
            lines += ["", "IAM documents left out to fit a pull request comment: see the stack's template in the "
                      "cloud assembly (build artifacts)."]
        return [*lines, "", "</details>", ""]
    if stack.added:
        lines += [f"**Added** ({len(stack.added)})", "", *_resource_table(stack.added)]
        for resource in stack.added:
            lines += _iam_documents(resource)
        lines.append("")
    if stack.removed:
        lines += [f"**Removed** ({len(stack.removed)})", "", *_resource_table(stack.removed), ""]
    if stack.modified:
        bullets: list[str] = []
        blocks: list[str] = []
        for resource in stack.modified:
            parts, more = _render_changes(resource.logical_id, resource.changes)
            bullets.append(f"- {_code(resource.logical_id)} ({_code(resource.type)}): {'; '.join(parts)}")
            blocks += more
        lines += [f"**Modified** ({len(stack.modified)})", "", *bullets, *blocks, ""]
    if stack.outputs:
        bullets, blocks = [], []
        for output in stack.outputs:
            parts, more = _render_changes(output.name, [output])
            bullets += [f"- {part}" for part in parts]
            blocks += more
        lines += [f"**Outputs** ({len(stack.outputs)})", "", *bullets, *blocks, ""]
    if stack.assets:
        lines += ["Assets with new content (hashes not shown): " + ", ".join(_code(a) for a in stack.assets), ""]
    return lines


def render_access_model(model: AccessModelDiff, first_deploy: bool = True) -> list[str]:
    title = {"added": " (new)", "removed": " (removed)"}.get(model.status, "")
    lines = [f"#### Access model {_code(model.name)} ({_code(model.stack)}){title}", ""]
    lines += [f"Note: {note}." for note in model.notes]
    if model.notes:
        lines.append("")
    count = len(model.change.statements)
    scripts = f" and {_plural(len(model.change_scripts), 'script')}" if model.change_scripts else ""
    if model.status == "removed":
        lead = f"Removing it runs {_plural(count, 'statement')}"
    elif model.status == "added":
        lead = f"Its first deploy runs {_plural(count, 'statement')}{scripts}"
    else:
        lead = (f"A deploy of this change runs {_plural(count, 'statement')}{scripts} on a warehouse that matches "
                "the base branch")
    if count or model.change_scripts:
        lines += [f"{lead}:", "", *_sql_block(render_for_review(model.change, model.change_scripts)), ""]
    if model.transition is not None:
        verdict = model.transition
        lines += [f"Transition check: {verdict.line().removeprefix('-- transition: ')}", ""]
        lines += [f"- {detail}" for detail in verdict.details()] + ([""] if not verdict.ok else [])
    else:
        lines += ["No SQL: a warehouse that matches the base branch already matches this model."
                  if model.status == "modified" else f"{lead}.", ""]
    if model.who is not None and (count or model.who.changes or model.who.new_warnings or model.who.note):
        lines += preview_diff.render(model.who)  # no SQL and no change: nothing to say
    if model.first_deploy is not None and model.status == "modified" and first_deploy:
        first = f"{_plural(len(model.first_deploy.statements), 'statement')}"
        if model.first_scripts:
            first += f" and {_plural(len(model.first_scripts), 'script')}"
        lines += [f"<details><summary>From an empty warehouse (first deploy): {first}</summary>", "",
                  *_sql_block(render_for_review(model.first_deploy, model.first_scripts)), "", "</details>", ""]
    return lines


def render_environment(environment: EnvironmentDiff, level: int = 0) -> list[str]:
    title = {"added": " (new)", "removed": " (removed)"}.get(environment.status, "")
    lines = [f"### Environment {_code(environment.name)}{title}", ""]
    changed = [stack for stack in environment.stacks if stack.status != "unchanged"]
    unchanged = [stack.name for stack in environment.stacks if stack.status == "unchanged"]
    if not changed:
        lines += ["No template changes.", ""]
    for stack in changed:
        lines += render_stack(stack, new_stack_iam=level < 2)
    if unchanged:
        lines += ["Unchanged stacks: " + ", ".join(_code(name) for name in unchanged), ""]
    for model in environment.access_models:
        lines += render_access_model(model, first_deploy=level < 1)
    return lines


def render(environments: list[EnvironmentDiff], base: Path, head: Path, *, limit: int = COMMENT_LIMIT) -> str:
    """The whole summary, in at most `limit` characters (0: no limit): if it is longer, it leaves out
    first the first-deploy SQL (`make plan` prints it), then the IAM documents of new stacks, and at last
    cuts the text."""
    for level in range(3):
        text = _render(environments, base, head, level)
        if not limit or len(text) <= limit:
            return text
    note = "**Cut here to fit a pull request comment**: the cloud assemblies in the build artifacts hold the rest."
    lines = text[:text.rfind("\n", 0, limit - len(note) - 100)].split("\n")
    fences = [line for line in lines if line.startswith("```")]
    closing = ["`" * (len(fences[-1]) - len(fences[-1].lstrip("`")))] if len(fences) % 2 else []
    open_details = sum(line.startswith("<details>") for line in lines) - sum(line == "</details>" for line in lines)
    return "\n".join([*lines, *closing, *["</details>"] * open_details]).rstrip("\n") + f"\n\n{note}\n"


def _render(environments: list[EnvironmentDiff], base: Path, head: Path, level: int) -> str:
    lines = ["## Infrastructure and access review", "", f"**{totals(environments).headline()}**", "",
             f"Base {_code(str(base))}, head {_code(str(head))}: both synthesized offline, no AWS credentials. "
             "Asset hashes and `AWS::CDK::Metadata` are left out; IAM documents are shown in full.", ""]
    if level:
        lines += ["Shortened to fit a pull request comment: the first-deploy SQL of each access model is left out "
                  "(`make plan ENV=<name>` prints it)" + (", and so are the IAM documents of new stacks." if level > 1
                                                          else "."), ""]
    for environment in environments:
        lines += render_environment(environment, level)
    return "\n".join(lines).rstrip("\n") + "\n"


def review(base: Path, head: Path, environment: str | None = None) -> str:
    """The markdown summary of what merging the pull request (head) changes against the base branch."""
    return render(diff_directories(base, head, environment), base, head)
