"""One snapshot being read into a model: what every section shares (the catalog's state, how the model names
a role or a table, which names it cannot take, the warnings and comments gathered)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from redshift_idc.access.importer.yaml_text import Path_
from redshift_idc.access.model_file import split_table
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.snapshot import CatalogSnapshot
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE
from redshift_idc.runtime.catalog import Snapshot
from redshift_idc.runtime.catalog_rows import current_database_rows
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_column_name, validate_identifier


class CatalogReader:
    """One snapshot being read into a model: the names the model gives its roles and tables, the comments and
    warnings the sections add, and what was left out with the roles it skips."""

    def __init__(self, snapshot: CatalogSnapshot, config: EnvironmentConfig, name: str) -> None:
        self.snapshot = snapshot
        self.config = config
        self.name = name
        self.parsed: Snapshot = snapshot.parsed()
        self.state = self.parsed.state
        self.warnings: list[str] = list(self.parsed.warnings)
        if not snapshot.reads_default_privileges:
            self.warnings.append("this snapshot holds no default privileges (taken by an earlier version): the model "
                                 "lists none; take a new snapshot to import them")
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

    def schema_ok(self, schema: str, where: str) -> bool:
        try:
            validate_identifier(schema, "schema name")
        except SqlTextError as error:
            self.warnings.append(f"{where} is left out: {error}")
            return False
        return True

    def definition_rows(self, query: str) -> dict[str, tuple[Any, ...]]:
        """The current database's rows of a definition query by folded name (the policy views span databases)."""
        return {fold(str(row[0])): tuple(row) for row in current_database_rows(self.snapshot.rows).get(query, ())}
