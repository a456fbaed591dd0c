"""What a principal sees of a declared table at one state, cell by cell, evaluated on the model's sample rows
by the preview's evaluator."""

from __future__ import annotations

import json
from typing import Any

from redshift_idc.access.preview.evaluator import Evaluator
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import Persona
from redshift_idc.access.preview.rules import Rules
from redshift_idc.access.preview.samples import Samples
from redshift_idc.access.transition.table_rules import TableRules
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.sql_text import fold

Cell = tuple[int, str, str]  # (sample row id, column, shown value as JSON)


class Cells:
    """What a principal sees of a declared table, as cells, by the preview's evaluator; cached by what decides
    them (the table's rules, the roles that matter there, the user)."""

    def __init__(self, inputs: PreviewInputs) -> None:
        self.inputs = inputs
        self.samples = Samples(inputs)
        self.cache: dict[tuple[Any, ...], frozenset[Cell]] = {}

    def cells(self, rules: TableRules, name: str, roles: frozenset[str], user: str, cs: bool) -> frozenset[Cell]:
        key = (name, rules.signature, roles, user)
        found = self.cache.get(key)
        if found is None:
            evaluator = Evaluator(self.inputs, Rules(AccessState.of(rules.signature, cs)), self.samples)
            # The preview compares role names folded (a model never declares two differing only in case); the
            # states key them as written (`access_state.role_key`).
            view = evaluator.view(Persona(user, (), user, tuple(sorted({fold(r, cs) for r in roles}))), name)
            found = frozenset() if view.access != "ok" else frozenset(
                (row_id, column, json.dumps(value, default=str, sort_keys=True))
                for row_id, row in zip(view.row_ids, view.rows, strict=True) for column, value in row.items())
            self.cache[key] = found
        return found


def describe_cells(extra: frozenset[Cell]) -> str:
    rows = sorted({row for row, _, _ in extra})
    first = sorted(extra)[:3]
    shown = ", ".join(f"{column}={json.loads(value)!r}" for _, column, value in first)
    return f"{len(extra)} cell(s) of {len(rows)} sample row(s) it sees neither before nor after ({shown}, ...)"
