"""The preview's set-based evaluation: every persona of a table in a few queries, each policy translated once,
rows built when read; and all of it giving what each (persona, table) pair evaluated alone gives."""

from __future__ import annotations

import copy
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access import expressions
from redshift_idc.access.model import parse_model
from redshift_idc.access.preview import results
from redshift_idc.access.preview import translate as translate_module
from redshift_idc.access.preview.build import evaluate
from redshift_idc.access.preview.evaluator import Evaluator, personas_of
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import Preview, PreviewError, Rows
from redshift_idc.access.preview.rules import Rules
from redshift_idc.access.preview.samples import Samples
from redshift_idc.access.scripts import script_entry
from redshift_idc.runtime.access_state import AccessState

SOURCE = Path("access/test.yaml")
SCRIPT = script_entry("t.sql", (
    "CREATE SCHEMA IF NOT EXISTS s;\n"
    "CREATE TABLE s.t (region VARCHAR(10), amount INT, owner VARCHAR(40));\n"
    "INSERT INTO s.t VALUES ('EU', 10, 'awsidc:ann'), ('US', 20, 'awsidc:bob'), ('APAC', 30, 'awsidc:eve'),"
    " ('EU', 40, 'awsidc:cy'), ('US', 50, 'awsidc:dee');\n"
    "CREATE TABLE s.u (region VARCHAR(10), code VARCHAR(10));\n"
    "INSERT INTO s.u VALUES ('EU', '1'), ('US', 'x'), ('APAC', '3');\n"))
GROUPS = ["eu", "us", "apac", "boss", "guest"]


def rich_model(conjunction: str) -> dict[str, Any]:
    """RLS with several policies per persona (one naming current_user, one testing a membership, one on
    PUBLIC), masking with priorities (one on PUBLIC, one naming current_user), a role hierarchy three deep
    (senior -> reader -> every group), IGNORE RLS, a column grant and a persona without USAGE (Gus)."""
    rls = {"policies": [
        {"name": "eu_only", "with": {"region": "VARCHAR(10)"}, "using": "region = 'EU'",
         "attach": [{"table": "s.t", "to": ["eu"]}, {"table": "s.u", "to": ["eu"]}]},
        {"name": "us_only", "with": {"region": "VARCHAR(10)"}, "using": "region = 'US'",
         "attach": [{"table": "s.t", "to": ["us"]}, {"table": "s.u", "to": ["us"]}]},
        {"name": "own_rows", "with": {"owner": "VARCHAR(40)"}, "using": "owner = current_user",
         "attach": [{"table": "s.t", "to": ["apac", "us"]}]},
        {"name": "seniors", "with": {"amount": "INT"},
         "using": "user_is_member_of(current_user, 'senior') OR amount / 20 = 1",
         "attach": [{"table": "s.t", "to": ["apac"]}]},
        {"name": "no_apac", "with": {"region": "VARCHAR(10)"}, "using": "region <> 'APAC'",
         "attach": [{"table": "s.u", "to": ["PUBLIC"]}]}],
        "tables": [{"table": "s.t", "conjunction": conjunction}, {"table": "s.u", "conjunction": conjunction}],
        "ignore_rls": ["boss"]}
    masking = {"policies": [
        {"name": "hide", "with": {"v": "VARCHAR(10)"}, "using": "'***'::VARCHAR(10)",
         "attach": [{"table": "s.t", "columns": ["region"], "to": "PUBLIC", "priority": 5}]},
        {"name": "lower", "with": {"v": "VARCHAR(10)"}, "using": "LOWER(v)",
         "attach": [{"table": "s.t", "columns": ["region"], "to": "eu", "priority": 20}]},
        {"name": "show", "with": {"v": "VARCHAR(10)"}, "using": "v",
         "attach": [{"table": "s.t", "columns": ["region"], "to": "senior", "priority": 30}]},
        {"name": "mine", "with": {"o": "VARCHAR(40)"},
         "using": "CASE WHEN o = current_user THEN o ELSE 'other' END",
         "attach": [{"table": "s.t", "columns": ["owner"], "to": "reader", "priority": 10}]}]}
    return {
        "tables": {"s.t": ["region", "amount", "owner"], "s.u": ["region", "code"]},
        "roles": {"idc_groups": GROUPS, "plain": ["reader", "senior"]},
        "schema_grants": [{"schema": "s", "privileges": ["USAGE"], "to": ["eu", "us", "apac", "boss"]}],
        "table_grants": [{"tables": ["s.t"], "privileges": ["SELECT"], "to": ["reader"]}],
        "column_grants": [{"table": "s.u", "columns": ["region"], "privileges": ["SELECT"], "to": ["reader"]}],
        "role_grants": [{"grant": "reader", "to": ["senior"]}, {"grant": "senior", "to": ["boss"]},
                        {"grant": "reader", "to": ["eu", "us", "apac", "guest"]}],
        "rls": rls, "masking": masking,
        "personas": [{"name": "Ann", "groups": ["eu"]}, {"name": "Bob", "groups": ["us"]},
                     {"name": "Cy", "groups": ["eu", "us"]}, {"name": "Dee", "groups": ["us", "apac"]},
                     {"name": "Eve", "groups": ["apac"]}, {"name": "Boss", "groups": ["boss"]},
                     {"name": "Fay", "groups": ["eu"]}, {"name": "Gus", "groups": ["guest"]}],
    }


def inputs_and_state(data: dict[str, Any]) -> tuple[PreviewInputs, AccessState]:
    compiled = parse_model(data, name="test", source=SOURCE)
    return PreviewInputs.of_model(compiled.model, [SCRIPT], "AWSIDC", Path(".")), compiled.desired


def pairwise(inputs: PreviewInputs, state: AccessState) -> list[list[Any]]:
    """Each persona's view of each table, each pair evaluated alone (one query each)."""
    rules = Rules(state)
    evaluator = Evaluator(inputs, rules, Samples(inputs))
    return [[evaluator.view(p, table) for table in sorted(inputs.tables)] for p in personas_of(inputs, rules)]


@pytest.mark.parametrize("conjunction", ["AND", "OR"])
def test_every_persona_at_once_gives_what_each_pair_alone_gives(conjunction: str) -> None:
    inputs, state = inputs_and_state(rich_model(conjunction))
    together = evaluate(inputs, state)
    alone = pairwise(inputs, state)
    assert [[t for t in v.tables] for v in together.personas] == alone
    assert [[t.to_json() for t in v.tables] for v in together.personas] == [[t.to_json() for t in ts] for ts in alone]
    # The model exercises what it claims to: filters that differ, masks that differ, hierarchy, denial.
    t = {v.persona.name: v.tables[0] for v in together.personas}
    u = {v.persona.name: v.tables[1] for v in together.personas}
    assert len({t[name].row_ids for name in t}) >= 5
    assert t["Eve"].row_ids == ((2,) if conjunction == "AND" else (1, 2))  # owner = current_user; 30 / 20 = 1
    assert {m for view in t.values() for m in view.masking.values()} == {"hide", "lower", "show", "mine"}
    assert [r["owner"] for r in t["Eve"].rows][-1] == "awsidc:eve" and t["Eve"].rows[0]["region"] == "***"
    assert t["Boss"].ignore_rls and len(t["Boss"].rows) == 5 and t["Boss"].masking["region"] == "show"
    assert "no_apac" in u["Ann"].policies and len(u["Ann"].rows) == (1 if conjunction == "AND" else 2)  # PUBLIC
    assert u["Ann"].columns == ("region",) and u["Gus"].access == "denied"  # column grant; guest has no USAGE
    narrowed = [w.message.split(":")[0] for w in together.warnings if w.code == "and-narrows"]
    # From each group's view alone: Cy's eu and us each see 1 row of s.u; of s.t its us alone sees none.
    assert narrowed == (["persona Cy (eu, us) sees 0 row(s) of s.u"] if conjunction == "AND" else [])


def test_personas_with_the_same_policies_share_queries() -> None:
    """The number of queries grows with a table's distinct select lists, not with its personas (filters naming
    current_user differ per persona: those are branches of one query). A masking expression naming current_user
    makes the select list differ per user: those personas get a query each, so it is left out here."""

    def queries(personas: int) -> int:
        data = rich_model("AND")
        data["masking"]["policies"].pop()  # mine
        data["personas"] = [{"name": f"p{i}", "groups": [GROUPS[i % 3]]} for i in range(personas)]
        inputs, state = inputs_and_state(data)
        samples = Samples(inputs)
        counting = _CountingConnection(samples.db)
        samples.db = counting  # type: ignore[assignment]  # forwards execute, all the evaluator calls
        rules = Rules(state)
        Evaluator(inputs, rules, samples).persona_views(personas_of(inputs, rules), sorted(inputs.tables))
        return counting.count

    few, many = queries(3), queries(60)
    assert few == many and many < 60


def test_each_policy_is_translated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: Counter[str] = Counter()
    original = expressions.parse_expression  # what translate calls

    def counting(expression: str, **options: Any) -> Any:
        parsed[expression] += 1
        return original(expression, **options)

    monkeypatch.setattr(translate_module, "parse_expression", counting)
    translate_module._template.cache_clear()
    translate_module._personal.cache_clear()
    data = rich_model("AND")
    data["personas"] = [{"name": f"p{i}", "groups": [GROUPS[i % 4]]} for i in range(40)]
    inputs, state = inputs_and_state(data)
    evaluate(inputs, state)
    policies = [p["using"] for kind in ("rls", "masking") for p in data[kind]["policies"]]
    assert parsed == Counter(policies)


def test_an_error_is_the_one_the_first_persona_meets_first() -> None:
    """Table by table, Bob's error on s.t would come first; pair by pair (persona, then table) Ann's on s.u
    does, and that is the one reported, with the message her pair alone gives."""
    data = rich_model("OR")
    data["rls"]["policies"].append({"name": "bad_code", "with": {"code": "VARCHAR(10)"},
                                    "using": "CAST(code AS INT) = 1", "attach": [{"table": "s.u", "to": ["eu"]}]})
    data["rls"]["policies"][1]["using"] = "CAST(region AS INT) = 1"  # us_only: fails on s.t for Bob
    data["personas"] = [{"name": "Ann", "groups": ["eu"]}, {"name": "Bob", "groups": ["us"]}]
    inputs, state = inputs_and_state(data)
    with pytest.raises(PreviewError) as raised:
        evaluate(inputs, state)
    assert str(raised.value).startswith("access/test.yaml: s.u for persona Ann: the preview cannot evaluate its "
                                        "policies in DuckDB: Conversion Error")
    with pytest.raises(PreviewError) as alone:
        pairwise(inputs, state)
    assert str(alone.value) == str(raised.value)


def test_rows_are_built_when_read_and_compare_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Any] = []
    original = results._plain

    def plain(value: Any) -> Any:
        built.append(value)
        return original(value)

    monkeypatch.setattr(results, "_plain", plain)
    rows = Rows(("id", "amount"), [(1, Decimal("1.50")), (2, None), (3, Decimal("7"))])
    assert len(rows) == 3 and built == []
    assert rows[1] == {"id": 2, "amount": None} and len(built) == 2
    assert rows[:2] == [{"id": 1, "amount": "1.50"}, {"id": 2, "amount": None}]
    assert rows == [{"amount": "1.50", "id": 1}, {"id": 2, "amount": None}, {"id": 3, "amount": "7"}]
    assert rows != [{"id": 1, "amount": "1.5"}, {"id": 2, "amount": None}, {"id": 3, "amount": "7"}]
    assert rows == Rows(("amount", "id"), [(Decimal("1.50"), 1), (None, 2), (Decimal("7"), 3)])
    assert rows != Rows(("id", "amount"), [(1, Decimal("1.5")), (2, None), (3, Decimal("7"))])
    assert Rows() == [] and not Rows() and json.loads(json.dumps(list(rows)))[0] == {"id": 1, "amount": "1.50"}


def test_the_preview_of_many_personas_is_the_same_as_of_each_alone() -> None:
    """The bench's shape (many groups, policies attached in turn) at a small scale: same views, each persona's
    view equal to its pair evaluation, whichever personas share a query."""
    data = copy.deepcopy(rich_model("AND"))
    data["personas"] = [{"name": f"p{i}", "groups": sorted({GROUPS[i % 4], GROUPS[(i * 3 + 1) % 4]})}
                        for i in range(12)]
    inputs, state = inputs_and_state(data)
    together: Preview = evaluate(inputs, state)
    assert [[t for t in v.tables] for v in together.personas] == pairwise(inputs, state)


class _CountingConnection:
    """A DuckDB connection that counts the statements run through it."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.count = 0

    def execute(self, query: str, *parameters: Any) -> Any:
        self.count += 1
        return self.db.execute(query, *parameters)
