"""The access preview: Redshift's rules (REDSHIFT_REFERENCE.md 3.2-3.7) on sample rows in DuckDB, one test
per rule, the demo's seed outcome, the lints and the command's formats."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access.model import parse_model
from redshift_idc.access.preview.build import build_preview
from redshift_idc.access.preview.results import Preview, PreviewError, TableView
from redshift_idc.access.scripts import script_entry
from redshift_idc.cli.main import main
from redshift_idc.runtime.access_state import AccessState, RlsAttachment
from redshift_idc.runtime.reconcile_request import ScriptEntry

SOURCE = Path("access/test.yaml")
SCRIPT = script_entry("t.sql", (
    "CREATE SCHEMA IF NOT EXISTS s;\n"
    "CREATE TABLE s.t (region VARCHAR(10), amount INT, owner VARCHAR(40)) ;\n"
    "INSERT INTO s.t VALUES ('EU', 10, 'awsidc:ann'), ('US', 20, 'awsidc:bob'), ('APAC', 30, 'awsidc:ann');\n"))


def model(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tables": {"s.t": ["region", "amount", "owner"]},
        "roles": {"idc_groups": ["eu", "us", "boss"], "plain": ["reader"]},
        "schema_grants": [{"schema": "s", "privileges": ["USAGE"], "to": ["eu", "us", "boss"]}],
        "table_grants": [{"tables": ["s.t"], "privileges": ["SELECT"], "to": ["reader"]}],
        "role_grants": [{"grant": "reader", "to": ["eu", "us", "boss"]}],
        "rls": {"policies": [
            {"name": "eu_only", "with": {"region": "VARCHAR(10)"}, "using": "region = 'EU'",
             "attach": [{"table": "s.t", "to": ["eu"]}]},
            {"name": "us_only", "with": {"region": "VARCHAR(10)"}, "using": "region = 'US'",
             "attach": [{"table": "s.t", "to": ["us"]}]}],
            "tables": [{"table": "s.t"}], "ignore_rls": ["boss"]},
        "personas": [{"name": "Ann", "groups": ["eu"]}, {"name": "Bob", "groups": ["us"]},
                     {"name": "Both", "groups": ["eu", "us"]}, {"name": "Boss", "groups": ["boss"]}],
    }
    data.update(extra)
    return data


def preview(data: dict[str, Any], desired: AccessState | None = None, scripts: list[ScriptEntry] | None = None,
            tmp: Path | None = None) -> Preview:
    compiled = parse_model(data, name="test", source=SOURCE)
    return build_preview(compiled.model, desired or compiled.desired, [SCRIPT] if scripts is None else scripts,
                         "AWSIDC", tmp or Path("."))


def view(result: Preview, persona: str, table: str = "s.t") -> TableView:
    person = next(p for p in result.personas if p.persona.name == persona)
    return next(t for t in person.tables if t.table == table)


def regions(v: TableView) -> list[Any]:
    return [row["region"] for row in v.rows]


def test_nested_roles_give_select_and_each_groups_policy_filters() -> None:
    """SELECT reaches the groups through the plain role granted to them (3.2); RLS keeps each to its rows."""
    result = preview(model())
    ann = next(p for p in result.personas if p.persona.name == "Ann").persona
    assert ann.roles == ("awsidc:eu", "reader", "public") and ann.user == "awsidc:ann"
    assert regions(view(result, "Ann")) == ["EU"] and view(result, "Ann").policies == ("eu_only",)
    assert regions(view(result, "Bob")) == ["US"]


def test_ignore_rls_shows_every_row() -> None:
    boss = view(preview(model()), "Boss")
    assert boss.ignore_rls and regions(boss) == ["EU", "US", "APAC"]


def test_and_combines_to_fewer_rows_and_or_widens() -> None:
    assert regions(view(preview(model()), "Both")) == []
    data = model()
    data["rls"]["tables"] = [{"table": "s.t", "conjunction": "OR"}]
    both = view(preview(data), "Both")
    assert both.conjunction == "OR" and regions(both) == ["EU", "US"]


def test_no_applicable_policy_means_no_rows_and_is_linted() -> None:
    data = model(personas=[{"name": "Reader", "groups": []}], role_grants=[])
    data["roles"]["idc_groups"] = ["eu", "us", "boss"]
    data["table_grants"][0]["to"] = ["eu", "us", "boss", "reader"]
    data["role_grants"] = [{"grant": "reader", "to": ["eu"]}]
    data["personas"] = [{"name": "Eve", "groups": ["boss"]}]
    data["rls"]["ignore_rls"] = []
    result = preview(data)
    assert view(result, "Eve").rows == [] and view(result, "Eve").access == "ok"
    assert [w.code for w in result.warnings if "Eve" in w.message] == ["rls-no-policy"]


def test_policies_attached_to_public_apply_to_everyone() -> None:
    data = model()
    compiled = parse_model(data, name="test", source=SOURCE)
    state = compiled.desired
    state.add(RlsAttachment("eu_only", "s", "t", "PUBLIC"))
    result = build_preview(compiled.model, state, [SCRIPT], "AWSIDC", Path("."))
    assert regions(view(result, "Bob")) == []  # us_only AND eu_only (through PUBLIC)


def test_missing_usage_denies_and_names_it() -> None:
    data = model(schema_grants=[{"schema": "s", "privileges": ["USAGE"], "to": ["boss"]}])
    result = preview(data)
    ann = view(result, "Ann")
    assert ann.access == "denied" and ann.missing == ("USAGE on schema s",) and ann.rows == []
    assert any(w.code == "select-without-usage" and "Ann" in w.message for w in result.warnings)
    assert view(result, "Boss").access == "ok"


def test_column_grants_show_only_those_columns() -> None:
    data = model(table_grants=[], role_grants=[],
                 column_grants=[{"table": "s.t", "columns": ["region"], "privileges": ["SELECT"], "to": ["boss"]}])
    boss = view(preview(data), "Boss")
    assert boss.columns == ("region",) and boss.denied_columns == ("amount", "owner")
    assert boss.rows == [{"region": "EU"}, {"region": "US"}, {"region": "APAC"}]
    assert view(preview(data), "Ann").missing == ("SELECT on s.t",)


def test_the_highest_priority_masking_attachment_wins_and_predicates_see_unmasked_values() -> None:
    data = model(masking={"policies": [
        {"name": "hide", "with": {"v": "VARCHAR(10)"}, "using": "'***'::VARCHAR(10)",
         "attach": [{"table": "s.t", "columns": ["region"], "to": "reader", "priority": 10}]},
        {"name": "lower", "with": {"v": "VARCHAR(10)"}, "using": "LOWER(v)",
         "attach": [{"table": "s.t", "columns": ["region"], "to": "eu", "priority": 20}]}]})
    result = preview(data)
    ann = view(result, "Ann")  # holds eu (priority 20) and reader (10): lower wins; RLS still matched 'EU'
    assert ann.rows[0]["region"] == "eu" and ann.masking == {"region": "lower"} and ann.masked_columns == ("region",)
    assert regions(view(result, "Bob")) == ["***"]


def test_current_user_is_the_persona() -> None:
    data = model()
    data["rls"]["policies"][0]["using"] = "region = 'EU' OR current_user = 'awsidc:ann'"
    assert regions(view(preview(data), "Ann")) == ["EU", "US", "APAC"]  # the user test is true for Ann
    data["rls"]["policies"][0]["with"] = {"owner": "VARCHAR(40)"}
    data["rls"]["policies"][0]["using"] = "owner = current_user"
    assert regions(view(preview(data), "Ann")) == ["EU", "APAC"]


def test_user_is_member_of_is_decided_from_the_personas_roles() -> None:
    data = model()
    data["rls"]["policies"][0]["using"] = "user_is_member_of(current_user, 'reader') AND region <> 'US'"
    assert regions(view(preview(data), "Ann")) == ["EU", "APAC"]


def test_what_cannot_be_evaluated_is_an_error_naming_it() -> None:
    """A Redshift function DuckDB has no equivalent of (FNV_HASH, page r_FNV_HASH) is valid in the model; the
    preview names it instead of passing DuckDB's own error on (an unknown name is refused earlier, by
    validation: tests/test_functions_and_types.py)."""
    data = model()
    data["rls"]["policies"][0]["using"] = "fnv_hash(region) = 1"
    with pytest.raises(PreviewError, match=r"^access/test.yaml: rls policy eu_only: the preview cannot evaluate "
                                           r"fnv_hash\(\): the preview \(DuckDB") as raised:
        preview(data)
    assert "Catalog Error" not in str(raised.value) and "does not exist" not in str(raised.value)


def test_a_table_without_sample_rows_still_gets_its_verdict_and_csv_rows_load(tmp_path: Path) -> None:
    data = model(tables={"s.t": ["region", "amount", "owner"], "s.extra": ["id", "region"]},
                 sample_data={"s.extra": "extra.csv"})
    data["table_grants"][0]["tables"] = ["s.t", "s.extra"]
    (tmp_path / "extra.csv").write_text("id,region\n1,EU\n2,US\n")
    result = preview(data, tmp=tmp_path)
    assert view(result, "Boss", "s.extra").rows == [{"id": "1", "region": "EU"}, {"id": "2", "region": "US"}]
    assert view(preview(data, scripts=[], tmp=tmp_path), "Ann").access == "ok"


def test_without_personas_there_is_one_per_idc_group() -> None:
    result = preview(model(personas=[]))
    assert [p.persona.name for p in result.personas] == ["eu", "us", "boss"]


def test_personas_must_name_the_models_groups() -> None:
    with pytest.raises(Exception, match=r"personas\[0\].groups\[0\]: 'nope' is not one of the model's"):
        preview(model(personas=[{"name": "X", "groups": ["nope"]}]))


def test_the_demo_shows_the_seeds_outcome_and_its_lints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--env", "demo", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    counts = {p["name"]: next(t["row_count"] for t in p["tables"] if t["table"] == "public.sales_data")
              for p in document["personas"]}
    assert counts == {"Ethan": 5, "Frank": 1, "Alex": 2, "Ming": 1, "Pat": 0}
    frank = next(p for p in document["personas"] if p["name"] == "Frank")
    assert set(frank) >= {"name", "roles", "tables"} and frank["roles"] == ["awsidc:amer-sales", "public"]
    table = next(t for t in frank["tables"] if t["table"] == "public.sales_data")
    assert set(table) >= {"table", "access", "row_count", "rows", "masked_columns", "denied_columns"}
    assert table["rows"][0]["city"] == "Seattle" and table["access"] == "ok"
    codes = {w["code"]: w["message"] for w in document["warnings"]}
    assert "SKU-1005" in codes["unseen-rows"] and "Pat" in codes["and-narrows"]
    assert main(["preview", "--env", "demo", "--persona", "frank"]) == 0
    text = capsys.readouterr().out
    assert "Frank" in text and "Ethan" not in text and "1 of 5 row(s)" in text
    assert main(["preview", "--env", "demo", "--persona", "nobody"]) == 2
    assert "no persona 'nobody'" in capsys.readouterr().err
    assert main(["preview", "--env", "demo", "--format", "markdown"]) == 0
    assert "| Frank | public.sales_data | ok | 1 of 5 |" in capsys.readouterr().out


def test_the_plan_ends_with_a_short_preview() -> None:
    from redshift_idc.config.environment import load_environment
    from redshift_idc.review.plan_report import offline_plan

    text = offline_plan(load_environment("demo"))
    summary = text.split("-- who sees what on the sample rows", 1)[1]
    frank = "--   Frank: finance_schema.revenue denied, public.sales_data 1/5, sales_schema.store_sales denied"
    assert frank in summary
    assert "-- warning [unseen-rows]" in summary


def test_expectations_hold_or_name_the_persona_the_table_and_the_difference() -> None:
    data = model(expect=[
        {"persona": "Ann", "table": "s.t", "rows_where": "region = 'EU'"},
        {"persona": "Ann", "table": "s.t", "rows": 1, "access": "ok", "masked": []},
    ])
    assert preview(data).failures == []
    data["expect"] = [
        {"persona": "Ann", "table": "s.t", "rows_where": "region IN ('EU', 'US')"},
        {"persona": "Bob", "table": "s.t", "rows": 3},
        {"persona": "Boss", "table": "s.t", "access": "denied"},
        {"persona": "Bob", "table": "s.t", "masked": ["amount"]},
    ]
    failures = preview(data).failures
    assert failures == [
        "access/test.yaml: expect[0]: persona Ann, s.t: rows_where \"region IN ('EU', 'US')\": rows missing: region=US",
        "access/test.yaml: expect[1]: persona Bob, s.t: sees 1 row(s), expected 3",
        "access/test.yaml: expect[2]: persona Boss, s.t: access is ok, expected denied",
        "access/test.yaml: expect[3]: persona Bob, s.t: masked columns are none, expected amount",
    ]


def test_an_expectation_must_name_a_persona_and_say_something() -> None:
    with pytest.raises(Exception, match=r"expect\[0\].persona: no persona 'Zed'"):
        preview(model(expect=[{"persona": "Zed", "table": "s.t", "rows": 1}]))
    with pytest.raises(Exception, match=r"expect\[0\]: says nothing to check"):
        preview(model(expect=[{"persona": "Ann", "table": "s.t"}]))


def test_a_wrong_expectation_fails_plan_validate_and_synth(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from redshift_idc.access import checked
    from redshift_idc.access.model_file import ExpectSpec
    from redshift_idc.cdk.app import add_environment
    from redshift_idc.cdk.app_start import new_app
    from redshift_idc.config.environment import load_environment
    from redshift_idc.config.errors import ConfigError

    original = checked.model_for

    def wrong(config: Any, given: Any = None) -> Any:
        demo = original(config)
        return dataclasses.replace(demo, model=demo.model.model_copy(update={"expect": (
            ExpectSpec(persona="Frank", table="public.sales_data", rows=2),)}))

    monkeypatch.setattr(checked, "model_for", wrong)
    for command in (["plan", "--env", "demo"], ["validate", "--env", "demo"]):
        assert main(command) == 2
        assert "expect[0]: persona Frank, public.sales_data: sees 1 row(s), expected 2" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"persona Frank, public.sales_data: sees 1 row"):
        add_environment(new_app(), load_environment("demo"), nag=False)


def test_strict_fails_on_warnings_the_model_does_not_accept(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--env", "demo", "--strict"]) == 0  # the demo accepts its two, with reasons
    capsys.readouterr()
    from redshift_idc.access import checked

    original = checked.model_for
    monkeypatch.setattr(checked, "model_for", lambda config: dataclasses.replace(
        original(config), model=original(config).model.model_copy(update={"allow_warnings": ()})))
    assert main(["preview", "--env", "demo", "--strict"]) == 2
    error = capsys.readouterr().err
    assert "--strict: 2 problem(s)" in error and "warning [unseen-rows]" in error and "allow_warnings" in error
    assert main(["preview", "--env", "demo"]) == 0  # without --strict, warnings are warnings


# ---------------------------------------------------------------------- who sees what, base against head


def _compare(base: dict[str, Any] | None, head: dict[str, Any]) -> Any:
    from redshift_idc.access.preview.inputs import PreviewInputs
    from redshift_idc.review.preview_diff import compare

    compiled = parse_model(head, name="test", source=SOURCE)

    head_model, head_state = compiled.model, compiled.desired
    inputs = PreviewInputs.of_model(head_model, [SCRIPT], "AWSIDC", Path("."))
    base_state = parse_model(base, name="test", source=SOURCE).desired if base is not None else None
    return compare(PreviewInputs.from_json(inputs.to_json(), [SCRIPT]), base_state, head_state)


def _change(result: Any, persona: str) -> Any:
    return next(c for c in result.changes if c.persona == persona)


def test_the_diff_shows_rows_before_and_after_and_nothing_for_unchanged_personas() -> None:
    head = model()
    head["rls"]["policies"][0]["using"] = "region IN ('EU', 'APAC')"
    result = _compare(model(), head)
    assert [c.persona for c in result.changes] == ["Ann"]  # Bob, Both (AND with us_only) and Boss keep theirs
    assert _change(result, "Ann").access == "ok" and _change(result, "Ann").rows == "1 → 2 of 3"


def test_the_diff_names_access_lost_and_gained_and_new_warnings() -> None:
    lost = _compare(model(), model(role_grants=[{"grant": "reader", "to": ["boss"]}]))
    assert {c.persona: c.access for c in lost.changes} == {
        "Ann": "ok → denied (lost)", "Bob": "ok → denied (lost)", "Both": "ok → denied (lost)"}
    assert _change(lost, "Ann").rows == "1 → - of 3"
    gained = _compare(None, model())  # a new model: against no rules at all
    assert {c.access for c in gained.changes} == {"denied → ok (gained)"}
    assert any(w.startswith("and-narrows:") for w in gained.new_warnings)
    assert _compare(model(), model()).changes == []


def test_the_diff_names_newly_masked_and_unmasked_columns() -> None:
    masking = {"policies": [{"name": "hide", "with": {"v": "VARCHAR(40)"}, "using": "'***'::VARCHAR(40)",
                             "attach": [{"table": "s.t", "columns": ["owner"], "to": "reader", "priority": 10}]}]}
    masked = _compare(model(), model(masking=masking))
    assert _change(masked, "Ann").newly_masked == ("owner",) and _change(masked, "Ann").unmasked == ()
    assert _change(masked, "Ann").rows == "1 of 3"
    unmasked = _compare(model(masking=masking), model())
    assert _change(unmasked, "Bob").unmasked == ("owner",) and _change(unmasked, "Bob").newly_masked == ()


def test_the_diff_says_why_when_a_rule_cannot_be_evaluated() -> None:
    head = model()
    head["rls"]["policies"][0]["using"] = "user_is_member_of('awsidc:other', 'eu')"
    result = _compare(model(), head)
    assert result.changes == [] and "user_is_member_of about another user" in result.note


# ------------------------------------------------------------- where DuckDB and Redshift differ


def test_integer_division_truncates_as_in_redshift() -> None:
    """Redshift: 30 / 20 = 1 for integers (DuckDB's `/` would give 1.5); a decimal operand divides exactly."""
    data = model()
    data["rls"]["policies"][0].update({"with": {"amount": "INT"}, "using": "amount / 20 = 1"})
    assert [r["amount"] for r in view(preview(data), "Ann").rows] == [20, 30]
    data["rls"]["policies"][0]["using"] = "amount / 20.0 = 1"
    assert [r["amount"] for r in view(preview(data), "Ann").rows] == [20]


def test_a_division_of_unknown_type_and_blank_padded_text_are_refused_not_guessed() -> None:
    data = model()
    data["rls"]["policies"][0]["using"] = "LENGTH(region) / 2 = 1 OR region = 'EU '"
    with pytest.raises(PreviewError, match=r"rls policy eu_only: the string 'EU ' ends in blanks"):
        preview(data)
    data["rls"]["policies"][0]["using"] = "REGEXP_COUNT(region, 'E') / 2 = 1"
    with pytest.raises(PreviewError, match=r"cannot tell whether REGEXP_COUNT\(region, 'E'\) / 2 divides integers"):
        preview(data)
    padded = script_entry("t.sql", SCRIPT["Sql"].replace("('EU', 10", "('EU  ', 10"))
    with pytest.raises(PreviewError, match=r"s.t: the sample value 'EU  ' of column region ends in blanks"):
        preview(model(), scripts=[padded])
    # Without RLS or masking on the table nothing compares its text: the rows are shown as they are.
    plain = model(rls={"policies": [], "tables": [], "ignore_rls": []})
    assert regions(view(preview(plain, scripts=[padded]), "Ann")) == ["EU  ", "US", "APAC"]
