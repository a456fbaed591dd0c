"""The sample rows: an in-memory DuckDB holding the model's declared tables, filled from the `INSERT ...
VALUES` of its scripts (translated from Redshift SQL by sqlglot) and its `sample_data` CSV files."""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from redshift_idc.access.model_file import split_table
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import PreviewError
from redshift_idc.runtime.sql_text import fold

# sqlglot logs a warning for each statement it can only keep as an opaque command (`CREATE USER ... PASSWORD
# DISABLE`): such statements hold no sample rows and are left out anyway, so the warning would be noise on every
# validate, plan and synth. Only that warning is dropped; errors still raise.
_OPAQUE = "contains unsupported syntax"


class _NoOpaqueWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _OPAQUE not in record.getMessage()


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quoted_table(schema: str, table: str) -> str:
    return f"{quote_name(schema)}.{quote_name(table)}"


class Samples:
    """An in-memory DuckDB holding the model's tables with their sample rows."""

    def __init__(self, inputs: PreviewInputs) -> None:
        self.db = duckdb.connect(":memory:")
        self.inputs = inputs
        self.cs = inputs.case_sensitive
        self.created: set[tuple[str, str]] = set()
        self.counts: dict[tuple[str, str], int] = {}
        for script in inputs.scripts:
            self._load_script(script["Name"], script["Sql"])
        for table, columns in inputs.tables.items():
            schema, name = split_table(table)
            if (fold(schema, self.cs), fold(name, self.cs)) not in self.created:
                self._create(schema, name, [(c, "VARCHAR") for c in columns])
        if inputs.csv:
            with tempfile.TemporaryDirectory(prefix="redshift-idc-preview-") as folder:
                for index, (table, (file_name, text)) in enumerate(sorted(inputs.csv.items())):
                    path = Path(folder) / f"{index}.csv"
                    path.write_text(text, encoding="utf-8")
                    self._load_csv(table, file_name, path)

    def count(self, schema: str, name: str) -> int:
        """How many sample rows the table holds; counted once (every persona's view shows it)."""
        found = self.counts.get((schema, name))
        if found is None:
            counted = self.db.execute(f"SELECT COUNT(*) FROM {quoted_table(schema, name)}").fetchone()
            found = self.counts[(schema, name)] = int(counted[0]) if counted else 0
        return found

    def _create(self, schema: str, name: str, columns: Sequence[tuple[str, str]]) -> None:
        self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}")
        definition = ", ".join(f"{quote_name(c)} {t}" for c, t in columns)
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {quoted_table(schema, name)} ({definition})")
        self.created.add((fold(schema, self.cs), fold(name, self.cs)))

    def _load_script(self, name: str, text: str) -> None:
        """CREATE SCHEMA / CREATE TABLE (names and types only) and INSERT ... VALUES; other statements
        hold no sample rows and are left out."""
        quiet = _NoOpaqueWarning()
        sqlglot.logger.addFilter(quiet)
        try:
            statements = [s for s in sqlglot.parse(text, read="redshift") if s is not None]
        except sqlglot.errors.ParseError as error:
            raise PreviewError(f"sql/{name}: the preview cannot read this script: {error}") from None
        finally:
            sqlglot.logger.removeFilter(quiet)
        for statement in statements:
            if isinstance(statement, exp.Create) and statement.args.get("kind") == "TABLE":
                schema_node = statement.this
                if not isinstance(schema_node, exp.Schema) or not isinstance(schema_node.this, exp.Table):
                    continue  # CREATE TABLE ... AS SELECT: no declared columns to take
                table = schema_node.this
                columns = [(c.name, c.args["kind"].sql(dialect="duckdb")) for c in schema_node.expressions
                           if isinstance(c, exp.ColumnDef) and c.args.get("kind") is not None]
                self._create(table.db or "public", table.name, columns)
            elif isinstance(statement, exp.Insert) and isinstance(statement.expression, exp.Values):
                target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
                if not isinstance(target, exp.Table):
                    continue
                if (fold(target.db or "public", self.cs), fold(target.name, self.cs)) not in self.created:
                    continue  # a table the model does not declare: no verdict is asked of it
                try:
                    self.db.execute(statement.sql(dialect="duckdb"))
                except duckdb.Error as error:
                    raise PreviewError(f"sql/{name}: the preview cannot load the rows of "
                                       f"{target.sql(dialect='redshift')}: {error}") from None

    def _load_csv(self, table: str, file_name: str, path: Path) -> None:
        schema, name = split_table(table)
        where = f"{self.inputs.source}: sample_data.{table} ({file_name})"
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        columns = ", ".join(quote_name(h) for h in header)
        try:  # DuckDB reads the file itself (as text; the INSERT casts to the table's types)
            self.db.execute(f"INSERT INTO {quoted_table(schema, name)} ({columns}) SELECT {columns} FROM "
                            "read_csv(?, header = true, all_varchar = true)", [str(path)])
        except duckdb.Error as error:
            raise PreviewError(f"{where}: its rows do not fit {table}: {error}") from None
