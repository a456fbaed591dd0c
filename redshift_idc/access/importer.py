"""`python -m redshift_idc import`: write an access model from a warehouse's live catalog. Changes nothing.

It adopts an existing warehouse: the model it writes, planned against the catalog it was read from, runs
no DDL; a deploy only records the objects in the reconciler's ledger. The catalog comes from a snapshot
(`snapshot.py`): read now with the caller's credentials, or from a `snapshot` file (`--from-snapshot`),
which is the reconciler's own read plus the policy definitions and table columns an import needs.

What it writes, in a fixed order so two imports of one catalog give the same file:

- `roles`: `<identity namespace>:<group>` roles of groups the environment assigns become `idc_groups`
  (spelled as `config/<env>.yaml` spells the group); roles without `:` become `plain`. Other prefixed roles
  (another identity provider's, or groups the environment does not assign) and system roles are left out,
  with everything granted to them, each reported on stderr.
- grants (role, schema, table, column, scoped), grouped so that one entry covers every table, privilege and
  grantee that share a definition; the grantee PUBLIC is written `PUBLIC`.
- RLS policies, attachments, table settings (both conjunction types written out) and IGNORE RLS; masking
  policies and attachments with their priorities. Policy text is what Redshift returns (SVV_RLS_POLICY
  rewrites the predicate), only without the policy alias before column names, with a comment saying so.
- identity providers other than the one IAM Identity Center registered for the environment's namespace,
  their secret as a `secretsmanager:` placeholder to fill in (the catalog blanks it).
- `tables:` declares every table those name, with its columns from `svv_columns` (in table order), plus any
  referenced column the view did not list; `schemas:` the schemas grants name that no table declares.
- `removal_policy: retain`: the objects existed before this tool; deleting the stack must not drop them.

It then checks its own work: the file is compiled with the environment (every check `validate` runs on a
model), and planned against the snapshot: anything but zero statements is reported. Exit codes: 0 written
and it adopts everything it declares; 1 written, but it does not validate yet or would run DDL (the
messages say what to fix); 2 nothing written (configuration, credentials, an existing file without
--force).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc import project
from redshift_idc.access.expressions import ExpressionError, check_expression
from redshift_idc.access.model import APPLICATION_ARN, IAM_ROLE_ARN, parse_model, split_table
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.session import LiveError, admin_secret_arn, data_api_error
from redshift_idc.deployed.snapshot import CatalogSnapshot, load_snapshot, read_snapshot, write_new
from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    PUBLIC_GRANTEE,
    SCHEMA_PRIVILEGES,
    TABLE_PRIVILEGES,
    ColumnPrivilege,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import Snapshot
from redshift_idc.runtime.catalog_import import (
    definitions,
    masking_definition,
    provider_parameters,
    rls_definition,
)
from redshift_idc.runtime.planner import is_system_role, plan
from redshift_idc.runtime.sql_text import (
    SqlTextError,
    fold,
    validate_column_name,
    validate_identifier,
    validate_role_name,
)

MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
WRITTEN, NEEDS_WORK, ERROR = 0, 1, 2
# The kinds this importer writes; anything else in the catalog's state is reported, never dropped silently.
IMPORTED_KINDS = frozenset({Role.KIND, RoleGrant.KIND, SchemaPrivilege.KIND, ScopedTablePrivilege.KIND,
                            TablePrivilege.KIND, ColumnPrivilege.KIND, SystemPrivilege.KIND, RlsPolicy.KIND,
                            RlsAttachment.KIND, RlsTable.KIND, MaskingPolicy.KIND, MaskingAttachment.KIND,
                            IdentityProvider.KIND})
PLACEHOLDER = "FILL-IN"
Path_ = tuple[str | int, ...]


class ImportModelError(LiveError):
    """A problem that stops the import before anything is written."""


@dataclass
class ImportResult:
    """The model text, what was left out or needs a person (`warnings`), and what stops it from being
    deployable as written (`problems`: validation errors, planned DDL)."""

    name: str
    text: str
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    adopted: int = 0
    statements: int = 0


# --------------------------------------------------------------------------------------------- YAML


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


# ------------------------------------------------------------------------------------------ importing


def _privileges(names: Iterable[str], order: tuple[str, ...]) -> list[str]:
    return sorted(set(names), key=lambda p: (order.index(p) if p in order else len(order), p))


def _arn_partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


class _Importer:
    """Builds the model mapping, its comments and the warnings from one snapshot."""

    def __init__(self, snapshot: CatalogSnapshot, config: EnvironmentConfig, name: str) -> None:
        self.snapshot = snapshot
        self.config = config
        self.name = name
        self.parsed: Snapshot = snapshot.parsed()
        self.state = self.parsed.state
        self.warnings: list[str] = list(self.parsed.warnings)
        self.problems: list[str] = []
        self.comments: dict[Path_, list[str]] = {}
        self.refs: dict[str, str] = {}  # folded catalog role name -> how the model names it
        self.skipped: dict[str, int] = defaultdict(int)  # role left out -> objects left out with it
        self.columns: dict[tuple[str, str], list[str]] = {}  # tables the model declares -> referenced columns
        self.keys: dict[tuple[str, str], str | None] = {}
        self.schemas: set[str] = set()

    # -- names

    def grantee(self, name: str) -> str | None:
        if name == PUBLIC_GRANTEE:
            return PUBLIC_GRANTEE
        ref = self.refs.get(fold(name))
        if ref is None:
            self.skipped[name] += 1
        return ref

    def table(self, schema: str, table: str, columns: Iterable[str] = ()) -> str | None:
        """The model's key for a table (declared with `columns`), or None when the model cannot name it."""
        if (schema, table) not in self.keys:
            key: str | None = f"{schema}.{table}"
            try:
                if split_table(str(key)) != (schema, table):
                    raise ValueError("its schema name holds a '.', where the model splits schema from table")
            except ValueError as error:
                self.warnings.append(f"table {schema}.{table} is left out with everything naming it: the model "
                                     f"cannot name it ({error})")
                key = None
            self.keys[(schema, table)] = key
        key = self.keys[(schema, table)]
        if key is None:
            return None
        wanted = self.columns.setdefault((schema, table), [])
        for column in columns:
            if column not in wanted:
                wanted.append(column)
        return key

    def column_ok(self, column: str, where: str) -> bool:
        try:
            validate_column_name(column)
        except SqlTextError as error:
            self.warnings.append(f"{where} is left out: {error}")
            return False
        return True

    # -- sections

    def roles(self) -> dict[str, list[str]]:
        app = self.config.redshift_idc_application
        namespace = app.identity_namespace
        groups = {fold(g.display_name): g.display_name for g in app.groups}
        system = sorted({str(r[0]) for r in self.snapshot.rows.get("roles", ()) if is_system_role(str(r[0]))})
        if system:
            self.warnings.append(f"{len(system)} system role(s) left out, Redshift's own: {', '.join(system)}")
        idc: list[str] = []
        plain: list[str] = []
        taken: dict[str, str] = {}
        for item in sorted(self.state.of_kind(Role.KIND).values(), key=lambda r: fold(getattr(r, "name", ""))):
            assert isinstance(item, Role)
            role = item.name
            prefix, colon, rest = role.partition(":")
            if colon and fold(prefix) == fold(namespace):
                group = groups.get(fold(rest))
                if group is None:
                    self.warnings.append(
                        f"role {role} is left out with everything granted to it: IdC group '{rest}' is not among the "
                        f"groups config/{self.config.name}.yaml assigns (redshift_idc_application.groups); add it "
                        "there and import again")
                    continue
                ref, target = group, idc
            elif colon:
                self.warnings.append(
                    f"role {role} is left out with everything granted to it: its prefix '{prefix}:' is not the "
                    f"environment's identity namespace '{namespace}' (another identity provider's role, created "
                    "by it at sign-in, not by a model)")
                continue
            else:
                try:
                    validate_role_name(role)
                except SqlTextError as error:
                    self.warnings.append(f"role {role!r} is left out with everything granted to it: {error}")
                    continue
                ref, target = role, plain
            if fold(ref) in taken:
                self.warnings.append(f"role {role} is left out with everything granted to it: the model would name "
                                     f"it '{ref}', like role {taken[fold(ref)]} (role names are case-insensitive)")
                continue
            taken[fold(ref)] = role
            self.refs[fold(role)] = ref
            target.append(ref)
        return {k: v for k, v in (("idc_groups", idc), ("plain", plain)) if v}

    def role_grants(self) -> list[dict[str, Any]]:
        to: dict[str, set[str]] = defaultdict(set)
        for item in self.state.of_kind(RoleGrant.KIND).values():
            assert isinstance(item, RoleGrant)
            role, grantee = self.grantee(item.role), self.grantee(item.grantee)
            if role is not None and grantee is not None:
                to[role].add(grantee)
        return [{"grant": role, "to": sorted(to[role], key=fold)} for role in sorted(to, key=fold)]

    def schema_ok(self, schema: str, where: str) -> bool:
        try:
            validate_identifier(schema, "schema name")
        except SqlTextError as error:
            self.warnings.append(f"{where} is left out: {error}")
            return False
        return True

    def _grouped(self, rights: Mapping[tuple[Any, str], set[str]], order: tuple[str, ...],
                 ) -> dict[tuple[Any, tuple[str, ...]], list[str]]:
        """(target, grantee) -> privileges, regrouped as (target, privileges) -> grantees."""
        grouped: dict[tuple[Any, tuple[str, ...]], list[str]] = defaultdict(list)
        for (target, grantee), privileges in rights.items():
            grouped[(target, tuple(_privileges(privileges, order)))].append(grantee)
        return {k: sorted(v, key=fold) for k, v in grouped.items()}

    def schema_grants(self) -> list[dict[str, Any]]:
        rights: dict[tuple[Any, str], set[str]] = defaultdict(set)
        for item in self.state.of_kind(SchemaPrivilege.KIND).values():
            assert isinstance(item, SchemaPrivilege)
            grantee = self.grantee(item.grantee)
            if grantee is not None and self.schema_ok(item.schema, f"schema grant on {item.schema}"):
                rights[(item.schema, grantee)].add(item.privilege)
                self.schemas.add(item.schema)
        return [{"schema": schema, "privileges": list(privileges), "to": to}
                for (schema, privileges), to in sorted(self._grouped(rights, SCHEMA_PRIVILEGES).items())]

    def table_grants(self) -> list[dict[str, Any]]:
        rights: dict[tuple[Any, str], set[str]] = defaultdict(set)
        for item in self.state.of_kind(TablePrivilege.KIND).values():
            assert isinstance(item, TablePrivilege)
            grantee, key = self.grantee(item.grantee), self.table(item.schema, item.table)
            if grantee is not None and key is not None:
                rights[(key, grantee)].add(item.privilege)
        tables: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
        for (key, privileges), to in self._grouped(rights, TABLE_PRIVILEGES).items():
            tables[(privileges, tuple(to))].append(key)
        named = [{"tables": sorted(keys, key=fold), "privileges": list(privileges), "to": list(to)}
                 for (privileges, to), keys in tables.items()]
        named.sort(key=lambda e: (e["tables"], e["privileges"], e["to"]))
        scoped: dict[tuple[Any, str], set[str]] = defaultdict(set)
        for item in self.state.of_kind(ScopedTablePrivilege.KIND).values():
            assert isinstance(item, ScopedTablePrivilege)
            grantee = self.grantee(item.grantee)
            if grantee is not None and self.schema_ok(item.schema, f"scoped grant on {item.schema}"):
                scoped[(item.schema, grantee)].add(item.privilege)
                self.schemas.add(item.schema)
        return named + [{"all_tables_in": schema, "privileges": list(privileges), "to": to}
                        for (schema, privileges), to in sorted(self._grouped(scoped, TABLE_PRIVILEGES).items())]

    def column_grants(self) -> list[dict[str, Any]]:
        rights: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (table, grantee, column) -> privileges
        for item in self.state.of_kind(ColumnPrivilege.KIND).values():
            assert isinstance(item, ColumnPrivilege)
            grantee = self.grantee(item.grantee)
            if grantee is None or not self.column_ok(item.column, f"column grant on {item.schema}.{item.table}."
                                                                  f"{item.column}"):
                continue
            key = self.table(item.schema, item.table, [item.column])
            if key is not None:
                rights[(key, grantee, item.column)].add(item.privilege)
        by_privileges: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
        for (key, grantee, column), held in rights.items():
            by_privileges[(key, grantee, tuple(_privileges(held, COLUMN_PRIVILEGES)))].append(column)
        entries: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
        for (key, grantee, privileges), columns in by_privileges.items():
            entries[(key, tuple(sorted(columns, key=fold)), privileges)].append(grantee)
        return [{"table": key, "columns": list(columns), "privileges": list(privileges), "to": sorted(to, key=fold)}
                for (key, columns, privileges), to in sorted(entries.items())]

    def _policy_text(self, kind: str, policy: RlsPolicy | MaskingPolicy) -> bool:
        """Names and expression the model accepts; otherwise the policy is still written (as read) and the
        problem reported, so the person fixing it sees Redshift's text."""
        try:
            validate_identifier(policy.name, f"{kind} policy name")
        except SqlTextError as error:
            self.warnings.append(f"{kind} policy {policy.name!r} is left out with its attachments: {error}")
            return False
        try:
            check_expression(policy.using, [c for c, _ in policy.columns])
        except ExpressionError as error:
            self.problems.append(f"{kind} policy {policy.name}: the model's checks refuse the text Redshift "
                                 f"returned ({error}); rewrite `using` by hand (the first deploy then recreates the "
                                 "policy with your text)")
        return True

    def _definition_rows(self, query: str) -> dict[str, tuple[Any, ...]]:
        return {fold(str(row[0])): tuple(row) for row in self.snapshot.rows.get(query, ())}

    def rls(self) -> dict[str, Any]:
        rows = self._definition_rows("rls_policy_definitions")
        policies: list[dict[str, Any]] = []
        attached: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for item in self.state.of_kind(RlsAttachment.KIND).values():
            assert isinstance(item, RlsAttachment)
            attached[fold(item.policy)][f"{item.schema}\x00{item.table}"].add(item.grantee)
        for item in sorted(self.state.of_kind(RlsPolicy.KIND).values(), key=lambda p: fold(getattr(p, "name", ""))):
            assert isinstance(item, RlsPolicy)
            row = rows.get(fold(item.name))
            policy = rls_definition(row) if row is not None else None
            if policy is None:
                self.warnings.append(f"RLS policy {item.name} is left out with its attachments: its definition "
                                     "(svv_rls_policy polatts, polqual) could not be read")
                continue
            index = len(policies)
            if not self._policy_text("RLS", policy):
                continue
            entry: dict[str, Any] = {"name": policy.name}
            if policy.columns:
                entry["with"] = dict(policy.columns)
            entry["using"] = policy.using
            alias = row[1] if row is not None else None
            attach = []
            for target in sorted(attached.get(fold(policy.name), {})):
                schema, table = target.split("\x00")
                key = self.table(schema, table, [c for c, _ in policy.columns])
                to = [g for g in (self.grantee(n) for n in sorted(attached[fold(policy.name)][target])) if g]
                if key is not None and to:
                    attach.append({"table": key, "to": sorted(to, key=fold)})
            if attach:
                entry["attach"] = attach
            self.comments[("rls", "policies", index)] = [
                "with and using as Redshift returns them (svv_rls_policy polatts, polqual): Redshift rewrote",
                "the text the policy was created with"
                + (f"; only the alias {alias!r} was taken off its column names." if alias else "."),
                "Keep them as they are to adopt the policy unchanged.",
            ]
            policies.append(entry)
        tables = []
        for item in sorted(self.state.of_kind(RlsTable.KIND).values(),
                           key=lambda t: (getattr(t, "schema", ""), getattr(t, "table", ""))):
            assert isinstance(item, RlsTable)
            key = self.table(item.schema, item.table)
            if key is not None:
                tables.append({"table": key, "conjunction": item.conjunction.upper()})
        ignore: list[str] = []
        for item in self.state.of_kind(SystemPrivilege.KIND).values():
            assert isinstance(item, SystemPrivilege)
            if item.privilege != "IGNORE RLS":
                self.warnings.append(f"{item.privilege} granted to {item.grantee} is left out: the model has no field "
                                     "for it (it stays as it is)")
                continue
            grantee = self.grantee(item.grantee)
            if grantee is not None:
                ignore.append(grantee)
        section: dict[str, Any] = {}
        if policies:
            section["policies"] = policies
        if tables:
            section["tables"] = tables
        if ignore:
            section["ignore_rls"] = sorted(ignore, key=fold)
        return section

    def masking(self) -> dict[str, Any]:
        rows = self._definition_rows("masking_policy_definitions")
        attachments: dict[str, list[MaskingAttachment]] = defaultdict(list)
        for item in self.state.of_kind(MaskingAttachment.KIND).values():
            assert isinstance(item, MaskingAttachment)
            attachments[fold(item.policy)].append(item)
        policies: list[dict[str, Any]] = []
        for item in sorted(self.state.of_kind(MaskingPolicy.KIND).values(),
                           key=lambda p: fold(getattr(p, "name", ""))):
            assert isinstance(item, MaskingPolicy)
            row = rows.get(fold(item.name))
            policy = masking_definition(row) if row is not None else None
            if policy is None:
                self.warnings.append(f"masking policy {item.name} is left out with its attachments: its input columns "
                                     "(svv_masking_policy input_columns) could not be read")
                continue
            index = len(policies)
            if not self._policy_text("masking", policy):
                continue
            attach = []
            for attachment in sorted(attachments.get(fold(policy.name), []),
                                     key=lambda a: (a.schema, a.table, a.output_columns, a.priority, a.grantee)):
                grantee = self.grantee(attachment.grantee)
                inputs = list(attachment.input_columns)
                columns = list(attachment.output_columns)
                if not all(self.column_ok(c, f"masking attachment of {policy.name} on {attachment.schema}."
                                             f"{attachment.table}.{c}") for c in columns + inputs):
                    continue
                key = self.table(attachment.schema, attachment.table, columns + inputs)
                if grantee is None or key is None:
                    continue
                entry: dict[str, Any] = {"table": key, "columns": columns}
                if inputs and [fold(c) for c in inputs] != [fold(c) for c in columns]:
                    entry["input_columns"] = inputs
                entry["to"] = grantee
                entry["priority"] = int(attachment.priority)
                attach.append(entry)
            policy_entry: dict[str, Any] = {"name": policy.name, "with": dict(policy.columns), "using": policy.using}
            if attach:
                policy_entry["attach"] = attach
            self.comments[("masking", "policies", index)] = [
                "with and using as Redshift returns them (svv_masking_policy input_columns, policy_expression),",
                "which may differ from the text the policy was created with. Keep them to adopt it unchanged.",
            ]
            policies.append(policy_entry)
        return {"policies": policies} if policies else {}

    def identity_providers(self) -> list[dict[str, Any]]:
        namespace = self.config.redshift_idc_application.identity_namespace
        found: list[dict[str, Any]] = []
        rows = sorted(self.snapshot.rows.get("identity_provider_definitions", ()), key=lambda r: fold(str(r[0])))
        for name, type_, idp_namespace, params, enabled in rows:
            name, kind = str(name), str(type_ or "").strip().lower()
            if kind == "awsidc" and fold(str(idp_namespace or "")) == fold(namespace):
                self.warnings.append(f"identity provider {name} is left out: IAM Identity Center registered it for the "
                                     f"environment's namespace '{namespace}' (the Redshift IdC application); a model "
                                     "must never own it")
                continue
            if kind not in ("awsidc", "azure"):
                self.warnings.append(f"identity provider {name} is left out: type {type_!r} is not one the model "
                                     "manages (awsidc, azure)")
                continue
            parameters, has_secret = provider_parameters(params)
            if parameters is None:
                self.warnings.append(f"identity provider {name} is left out: its params are not a JSON object")
                continue
            index = len(found)
            here: Path_ = ("identity_providers", index)
            entry: dict[str, Any] = {"name": name, "type": kind, "namespace": str(idp_namespace or "")}
            notes = ["Redshift does not show AUTO_CREATE_ROLES: unset means its default for the type",
                     "(TRUE for azure, FALSE for awsidc); set auto_create_roles if it was created otherwise."]
            account, region = self.config.account, self.config.region
            if kind == "azure":
                if parameters:
                    entry["parameters"] = parameters
                if has_secret:
                    slug = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "provider"
                    entry["client_secret_from"] = (
                        f"secretsmanager:arn:{_arn_partition(region)}:secretsmanager:{region}:{account}:secret:"
                        f"{PLACEHOLDER}-{slug}:client_secret")
                    self.comments[(*here, "client_secret_from")] = [
                        "FILL IN: the catalog blanks the client secret. Name the Secrets Manager secret (and its",
                        "JSON key) that holds it; a deploy reads it only when it sets this provider's parameters."]
                    self.warnings.append(f"identity provider {name}: client_secret_from is a placeholder: fill in the "
                                         "Secrets Manager ARN of its client secret")
            else:
                values = [v for v in parameters.values() if isinstance(v, str)]
                application = next((v for v in values if APPLICATION_ARN.match(v)), None)
                role = next((v for v in values if IAM_ROLE_ARN.match(v)), None)
                entry["application_arn"] = application or f"{PLACEHOLDER}: the IdC managed application ARN"
                entry["iam_role"] = role or f"{PLACEHOLDER}: the IAM role ARN Redshift uses to reach IdC"
                for key, found_value in (("application_arn", application), ("iam_role", role)):
                    if found_value is None:
                        self.comments[(*here, key)] = ["FILL IN: not shown by SVV_IDENTITY_PROVIDERS (the model does "
                                                       "not validate until it is)"]
                if application is None or role is None:
                    self.warnings.append(f"identity provider {name}: fill in application_arn and iam_role (the "
                                         "catalog does not show them)")
            flag = str(enabled).strip().lower() if not isinstance(enabled, bool) else enabled
            entry["enabled"] = flag not in (False, "f", "false", "0")
            self.comments[here] = notes
            found.append(entry)
        return found

    def tables(self) -> dict[str, list[str]]:
        read = self.snapshot.columns()
        declared: dict[str, list[str]] = {}
        for (schema, table), referenced in sorted(self.columns.items()):
            key = self.keys[(schema, table)]
            if key is None:
                continue
            columns = [c for c in read.get((schema, table), []) if self.column_ok(c, f"column {schema}.{table}.{c}")]
            missing = [c for c in referenced if fold(c) not in {fold(x) for x in columns}]
            if not read.get((schema, table)):
                self.warnings.append(f"table {key}: svv_columns listed no columns; declared with the "
                                     f"{len(referenced)} column(s) grants and policies name")
            columns += missing
            declared[key] = columns
        return declared

    def unknown_kinds(self) -> None:
        for kind in sorted(set(self.state.objects) - IMPORTED_KINDS):
            count = len(self.state.of_kind(kind))
            if count:
                self.warnings.append(f"{count} {kind} object(s) are left out: this importer does not know that kind "
                                     "yet (they stay as they are)")

    def build(self) -> tuple[dict[str, Any], list[str]]:
        """The model mapping (in the order it is written) and the header."""
        data: dict[str, Any] = {}
        roles = self.roles()
        sections: list[tuple[str, Any]] = [
            ("role_grants", self.role_grants()), ("schema_grants", self.schema_grants()),
            ("table_grants", self.table_grants()), ("column_grants", self.column_grants()),
            ("rls", self.rls()), ("masking", self.masking()), ("identity_providers", self.identity_providers()),
        ]
        tables = self.tables()
        table_schemas = {fold(split_table(key)[0]) for key in tables} | {"public"}
        schemas = sorted({s for s in self.schemas if fold(s) not in table_schemas}, key=fold)
        self.unknown_kinds()
        data["prune"] = False
        data["removal_policy"] = "retain"
        data["case_sensitive_identifiers"] = False
        if tables:
            data["tables"] = tables
        if schemas:
            data["schemas"] = schemas
        if roles:
            data["roles"] = roles
        for key, value in sections:
            if value:
                data[key] = value
        self.comments[("prune",)] = ["false: a deploy leaves alone what this model does not list."]
        self.comments[("removal_policy",)] = [
            "retain: these objects existed before this tool adopted them; deleting the stack leaves them in place."]
        self.comments[("case_sensitive_identifiers",)] = [
            "must match the workgroup's enable_case_sensitive_identifier (the catalog read does not show it)."]
        upper = sorted(n for n in [*self.refs, *(f"{s}.{t}" for s, t in self.columns)] if re.search("[A-Z]", n))
        if upper:
            self.comments[("case_sensitive_identifiers",)].append(
                f"The catalog holds names with upper-case letters ({upper[0]}, ...): they are kept only with "
                "case-sensitive identifiers on; if so, set this to true.")
        for section in ("tables",):
            if section in data:
                self.comments[(section,)] = ["every table the model names, with its columns (svv_columns, in table "
                                             "order)"]
        snapshot = self.snapshot
        header = [
            f"Access model imported from the catalog of environment {snapshot.environment} (workgroup "
            f"{snapshot.workgroup},",
            f"namespace {snapshot.namespace}, database {snapshot.database}), read as {snapshot.read_as} by "
            "`python -m redshift_idc snapshot` / `import`.",
            f"Deploy it by naming it in config/{snapshot.environment}.yaml: access_model: {self.name}",
            "Planned against that catalog it runs no DDL: a deploy records these objects in the ledger",
            f"(`python -m redshift_idc plan --env {snapshot.environment} --snapshot <file>` shows it). Review what "
            "the import",
            "reported as left out, and fill in the placeholders marked FILL IN.",
        ]
        return data, header


def _block(path: Path_) -> bool:
    """Which mappings are written in block style: the sections, each policy and provider."""
    return len(path) == 1 or (len(path) == 3 and path[1] == "policies") or (len(path) == 2 and
                                                                          path[0] == "identity_providers")


def import_model(snapshot: CatalogSnapshot, config: EnvironmentConfig, name: str,
                 source: Path | None = None) -> ImportResult:
    """The model text for `snapshot`, checked: compiled with `config` and planned against the snapshot."""
    importer = _Importer(snapshot, config, name)
    data, header = importer.build()
    text = emit(data, importer.comments, header, _block)
    result = ImportResult(name, text, importer.warnings, importer.problems)
    if snapshot.identity_namespace != config.redshift_idc_application.identity_namespace:
        result.warnings.append(f"the snapshot was read when the identity namespace was "
                               f"'{snapshot.identity_namespace}'; config/{config.name}.yaml now says "
                               f"'{config.redshift_idc_application.identity_namespace}' (IdC roles were matched with "
                               "the latter)")
    for role, count in sorted(importer.skipped.items()):
        result.warnings.append(f"{count} grant(s) or attachment(s) to {role} are left out with it")
    where = source or Path(f"access/{name}.yaml")
    try:
        model, desired = parse_model(yaml.safe_load(text), name=name, source=where, environment=config)
    except ConfigError as error:
        result.problems.append(f"it does not validate yet: {error}")
        return result
    current = importer.parsed.state
    if current.case_sensitive != desired.case_sensitive:
        current = snapshot.parsed(desired.case_sensitive).state
    planned = plan(desired, current, snapshot.ledger_for(name), prune=model.prune,
                   identity_provider_drop_cascade=model.identity_provider_drop_cascade,
                   definitions=definitions(snapshot.rows, desired.case_sensitive))
    result.adopted, result.statements = len(planned.adopt), len(planned.statements)
    if planned.statements:
        shown = "\n  ".join(s.sql for s in planned.statements[:20])
        more = f"\n  ... and {len(planned.statements) - 20} more" if len(planned.statements) > 20 else ""
        result.problems.append(f"planned against the catalog it was read from, it would run {len(planned.statements)} "
                               f"statement(s) instead of none (please report this):\n  {shown}{more}")
    return result


def _model_name(out_path: Path) -> str:
    name = out_path.name.removesuffix(".yaml")
    if not out_path.name.endswith(".yaml") or not MODEL_NAME.match(name):
        raise ImportModelError(f"--out {out_path}: a model is access/<name>.yaml, its name lower-case letters, "
                               "digits and hyphens starting with a letter (e.g. access/imported.yaml): the name keys "
                               "the reconciler's ledger")
    return name


def import_command(env: str | None, secret_arn: str | None, outputs: Path | None, from_snapshot: Path | None,
                   out_path: Path, *, force: bool = False, client: Any = None,
                   sleep: Callable[[float], None] | None = None, config_dir: Path | None = None,
                   out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI: writes the model, prints a summary on `out` and what needs a person on `err`; returns 0 (written,
    adopts everything it declares), 1 (written, needs work before it deploys) or 2 (nothing written)."""
    out = out or sys.stdout
    err = err or sys.stderr
    where = f"import --env {env}"
    try:
        name = _model_name(out_path)
        if out_path.exists() and not force:
            raise ImportModelError(f"{out_path}: already exists; pass --force to replace it, or choose another --out")
        if from_snapshot is not None:
            snapshot = load_snapshot(from_snapshot)
            if env is not None and env != snapshot.environment:
                raise ImportModelError(f"{from_snapshot}: read from environment {snapshot.environment}, not "
                                       f"{env}; pass --env {snapshot.environment} (or leave --env out)")
            config = load_environment(snapshot.environment, config_dir)
        else:
            if env is None:
                raise ImportModelError("import needs --env <name> to read a live warehouse (or --from-snapshot FILE)")
            config = load_environment(env, config_dir)
            where = f"{config.warehouse.workgroup_name}/{config.warehouse.database_name}"
            snapshot = read_snapshot(config, admin_secret_arn(config, secret_arn, outputs, "import"), client, sleep)
        result = import_model(snapshot, config, name, project.shown(out_path))
        write_new(out_path, result.text, force, "access model")
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"error: {data_api_error(error, where, 'import')}", file=err)
        return ERROR
    for warning in (*snapshot.warnings, *result.warnings):
        print(f"warning: {warning}", file=err)
    for problem in result.problems:
        print(f"needs work: {problem}", file=err)
    source = f"snapshot {from_snapshot}" if from_snapshot is not None else f"the live catalog of {snapshot.where}"
    if result.problems:
        print(f"wrote {out_path} from {source}; it needs the changes above before it deploys", file=out)
        return NEEDS_WORK
    print(f"wrote {out_path} from {source}: planned against that catalog it runs no DDL and records "
          f"{result.adopted} object(s) in the ledger; name it in config/{config.name}.yaml: access_model: {name}",
          file=out)
    return WRITTEN
