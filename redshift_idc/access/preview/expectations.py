"""The model's `expect` entries checked against its preview: access, row counts, which rows, masked columns."""

from __future__ import annotations

from typing import Any

from redshift_idc.access.model_file import AccessModel, split_table
from redshift_idc.access.preview.results import Preview, PreviewError
from redshift_idc.access.preview.samples import quote_name, quoted_table
from redshift_idc.access.preview.translate import translate


def failed_expectations(model: AccessModel, preview: Preview, samples_db: Any = None) -> list[str]:
    """Each expectation of the model the preview contradicts, naming the persona, the table and the
    difference (rows missing or extra, columns)."""
    failures = []
    db = samples_db if samples_db is not None else preview.samples
    for i, expectation in enumerate(model.expect):
        where = f"access/{model.name}.yaml: expect[{i}]: persona {expectation.persona}, {expectation.table}"
        view = next((p for p in preview.personas if p.persona.name.lower() == expectation.persona.lower()), None)
        table = next((t for t in view.tables if t.table == expectation.table), None) if view else None
        if view is None or table is None:
            failures.append(f"{where}: not in the preview")
            continue
        if expectation.access is not None and table.access != expectation.access:
            failures.append(f"{where}: access is {table.access}" + (
                f" (missing {' and '.join(table.missing)})" if table.missing else "") +
                f", expected {expectation.access}")
        if expectation.rows is not None and len(table.rows) != expectation.rows:
            failures.append(f"{where}: sees {len(table.rows)} row(s), expected {expectation.rows}")
        if expectation.rows_where is not None:
            schema, name = split_table(expectation.table)
            types = [(str(r[0]), str(r[1])) for r in db.execute(
                f"DESCRIBE {quoted_table(schema, name)}").fetchall()]
            predicate = translate(expectation.rows_where, f"{where}: rows_where", view.persona, None, types)
            wanted = {int(r[0]) for r in db.execute(
                f"SELECT rowid FROM {quoted_table(schema, name)} WHERE {predicate}").fetchall()}
            seen = set(table.row_ids)
            first = model.tables[expectation.table][0]
            values = {int(r[0]): str(r[1]) for r in db.execute(
                f"SELECT rowid, {quote_name(first)} FROM {quoted_table(schema, name)}").fetchall()}
            missing = [f"{first}={values[i]}" for i in sorted(wanted - seen)]
            extra = [f"{first}={values[i]}" for i in sorted(seen - wanted)]
            if missing or extra:
                failures.append(f"{where}: rows_where {expectation.rows_where!r}: " + "; ".join(
                    part for part in (f"rows missing: {', '.join(missing)}" if missing else "",
                                      f"rows extra: {', '.join(extra)}" if extra else "") if part))
        if expectation.masked is not None:
            expected = {c.lower() for c in expectation.masked}
            actual = {c.lower() for c in table.masked_columns}
            if expected != actual:
                failures.append(f"{where}: masked columns are {', '.join(sorted(actual)) or 'none'}, expected "
                                f"{', '.join(sorted(expected)) or 'none'}")
    return failures


def raise_failed_expectations(preview: Preview) -> None:
    """One error naming the model file first, then each failure (persona, table, difference)."""
    if preview.failures:
        source = f"access/{preview.model}.yaml"
        lines = [f.removeprefix(f"{source}: ") for f in preview.failures]
        raise PreviewError(f"{source}: {len(lines)} expectation(s) failed:\n  " + "\n  ".join(lines))
