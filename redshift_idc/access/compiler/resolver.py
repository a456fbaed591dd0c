"""What every object kind's compiler resolves its references against: the model's declared roles, tables
and schemas, and the objects compiled so far.

Every reference is checked offline, before anything deploys: roles must be declared (IdC roles must be
groups the environment assigns to the Redshift IdC application), tables must be declared with their
columns, and names must be ones Redshift accepts. The first bad reference fails with the field path it
came from, so the message points at the line to fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from redshift_idc.access.expressions import ExpressionError
from redshift_idc.access.functions import ScriptFunctions, check_functions, script_functions
from redshift_idc.access.model_file import AccessModel, split_table
from redshift_idc.access.redshift_types import DataTypeError, check_data_type
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE, AccessObject, AccessState, Role
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.sql_text import (
    SqlTextError,
    fold,
    validate_column_name,
    validate_data_type,
    validate_identifier,
    validate_role_name,
)

PUBLIC_SCHEMA = "public"


def fail(where: str, message: str) -> None:
    raise ValueError(f"{where}: {message}")


class Resolver:
    """The compiler's shared state: declared roles and tables (what references resolve to) and the objects
    the object kinds add, in the order they compile."""

    def __init__(self, model: AccessModel, identity_namespace: str, assigned_groups: tuple[str, ...] | None,
                 assigned_users: tuple[str, ...] = (),
                 scripts: Callable[[], Sequence[ScriptEntry]] | None = None) -> None:
        self.model = model
        self._scripts = scripts  # the model's scripts, read only when an expression calls a function not Redshift's
        self._script_functions: ScriptFunctions | None = None
        self.assigned_groups = assigned_groups
        self.assigned_users = assigned_users
        self.cs = model.case_sensitive_identifiers
        self.namespace = identity_namespace
        self.objects: list[AccessObject] = []
        # reference as written (folded) -> rendered role name: a reference may differ in case from the declaration,
        # the name written to SQL is the declared one (role names keep their case in Redshift).
        self.roles: dict[str, str] = {}
        for index, group in enumerate(model.roles.idc_groups):
            if assigned_groups is not None and fold(group) not in {fold(g) for g in assigned_groups}:
                fail(f"roles.idc_groups[{index}]", f"'{group}' is not among the groups the environment assigns to "
                     "the Redshift IdC application (redshift_idc_application.groups); add it there or fix the name")
            self._declare(f"roles.idc_groups[{index}]", group, f"{identity_namespace}:{group}")
        for index, role in enumerate(model.roles.plain):
            if ":" in role:
                fail(f"roles.plain[{index}]", f"'{role}' contains ':'; IdC roles are declared under roles.idc_groups")
            self._declare(f"roles.plain[{index}]", role, role)
        self.tables: dict[tuple[str, str], tuple[str, str, set[str]]] = {}
        self.declared_columns: dict[tuple[str, str], list[str]] = {}
        for table, columns in model.tables.items():
            schema, name = split_table(table)
            columns_folded = {fold(c, self.cs) for c in columns}
            self.tables[(fold(schema, self.cs), fold(name, self.cs))] = (schema, name, columns_folded)
            self.declared_columns[(fold(schema, self.cs), fold(name, self.cs))] = list(columns)

    def _declare(self, where: str, reference: str, rendered: str) -> None:
        if fold(reference) == fold(PUBLIC_GRANTEE):
            fail(where, "PUBLIC is Redshift's name for every user, not a role to declare; write PUBLIC as a "
                 "grantee (`to: [PUBLIC]`) where you mean everyone")
        try:
            validate_role_name(rendered)
        except SqlTextError as error:
            fail(where, str(error))
        key = fold(reference, self.cs)
        if key in self.roles:
            fail(where, f"role '{reference}' is declared twice (two role names differing only in case are refused: "
                 "Redshift keeps both as different roles, and a reference could mean either)")
        self.roles[key] = rendered
        self.objects.append(Role(rendered))

    def role(self, where: str, reference: str, public: bool = False) -> str:
        """A declared role, or PUBLIC (every user) where Redshift takes it (`public`: object grants and policy
        attachments); elsewhere PUBLIC is refused, saying why."""
        if fold(reference) == fold(PUBLIC_GRANTEE):
            if not public:
                fail(where, "PUBLIC cannot receive this: Redshift grants it only to roles (PUBLIC takes object "
                     "grants and RLS and masking attachments); name a role")
            return PUBLIC_GRANTEE
        rendered = self.roles.get(fold(reference, self.cs))
        if rendered is None:
            known = ", ".join(sorted(self.roles)) or "none"
            fail(where, f"unknown role '{reference}'; declare it under roles.idc_groups or roles.plain "
                 f"(known: {known})")
        return rendered  # type: ignore[return-value]

    def schema(self, where: str, name: str) -> str:
        """A schema the model knows: one of its tables' schemas, a `schemas:` entry, or `public`. A typo
        would otherwise plan a grant on a schema nobody created."""
        try:
            validate_identifier(name, "schema name")
        except SqlTextError as error:
            fail(where, str(error))
        known = {fold(PUBLIC_SCHEMA, self.cs): PUBLIC_SCHEMA}
        for declared in (*(split_table(t)[0] for t in self.model.tables), *self.model.schemas,
                         *(e.name for e in self.model.external_schemas)):
            known.setdefault(fold(declared, self.cs), declared)
        if fold(name, self.cs) not in known:
            close = difflib.get_close_matches(name, sorted(known.values()), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            fail(where, f"unknown schema '{name}'; {hint}a schema must be one of the model's tables' schemas or "
                 "listed under `schemas:` (for a schema a script or the data lake creates)")
        return name

    def table(self, where: str, qualified: str, columns: tuple[str, ...] = ()) -> tuple[str, str]:
        try:
            schema, name = split_table(qualified)
        except (ValueError, SqlTextError) as error:
            fail(where, str(error))
        known = self.tables.get((fold(schema, self.cs), fold(name, self.cs)))
        if known is None:
            fail(where, f"unknown table '{qualified}'; declare it with its columns under `tables`")
        assert known is not None
        missing = [c for c in columns if fold(c, self.cs) not in known[2]]
        if missing:
            fail(where, f"table '{qualified}' has no column(s) {', '.join(missing)} (as declared under `tables`)")
        return known[0], known[1]

    def table_columns(self, schema: str, name: str) -> list[str] | None:
        """A declared table's columns as written (None if undeclared): what a lookup subquery may name."""
        return self.declared_columns.get((fold(schema, self.cs), fold(name, self.cs)))

    def unique_name(self, where: str, name: str, seen: set[str], what: str) -> None:
        try:
            validate_identifier(name, f"{what} name")
        except SqlTextError as error:
            fail(f"{where}.name", str(error))
        if fold(name, self.cs) in seen:
            fail(f"{where}.name", f"duplicate {what} '{name}'")
        seen.add(fold(name, self.cs))

    def policy_columns(self, where: str, with_: dict[str, str]) -> tuple[tuple[str, str], ...]:
        """A policy's WITH columns as (name, type), each checked: what its expression may name."""
        result = []
        for name, type_ in with_.items():
            try:
                validate_column_name(name)
                check_data_type(type_)
                validate_data_type(type_)
            except (SqlTextError, DataTypeError) as error:
                fail(f"{where}.with.{name}", str(error))
            result.append((name, type_))
        return tuple(result)

    def script_functions(self) -> ScriptFunctions:
        """The functions the model's scripts create, read once, on first need."""
        if self._script_functions is None:
            try:
                scripts = self._scripts() if self._scripts is not None else ()
            except ConfigError as error:
                raise ExpressionError(f"it calls a function Redshift does not document, and the model's scripts, "
                                      f"which may create it, cannot be read: {error}") from None
            self._script_functions = script_functions(scripts)
        return self._script_functions

    def functions(self, where: str, expression: str) -> None:
        """The functions `expression` calls are Redshift's or the scripts' (functions.py): refused at `where`."""
        try:
            check_functions(expression, self.script_functions)
        except ExpressionError as error:
            fail(where, str(error))

    def state(self) -> AccessState:
        """The compiled objects as the planner takes them: one per kind and key (a repeated grant counts once)."""
        state = AccessState(case_sensitive=self.cs)
        for item in self.objects:
            state.add(item)
        return state
