"""The preview of objects created later (`access/preview/later.py`): each persona's privileges on the tables,
functions and procedures a creator makes after the deploy, from the model's default privileges, with USAGE on the
schema deciding reach as for any table, and said in the text, markdown and JSON forms."""

from __future__ import annotations

import json
from typing import Any

from redshift_idc.access.checked import checked_model
from redshift_idc.access.default_privilege_lints import default_privilege_lints
from redshift_idc.access.model import parse_model
from redshift_idc.access.preview.render import render_json, render_markdown, render_text
from redshift_idc.access.preview.results import LaterView, Preview
from redshift_idc.config.environment import load_environment
from tests.test_preview import SOURCE, model, preview


def later_model(defaults: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = model(default_privileges=defaults, schemas=["serving"], **extra)  # a schema the loader fills
    data["schema_grants"] = [*data["schema_grants"],
                             {"schema": "serving", "privileges": ["USAGE"], "to": ["eu"]}]
    return data


def later(result: Preview, persona: str) -> dict[str, LaterView]:
    person = next(p for p in result.personas if p.persona.name == persona)
    return {v.title: v for v in person.later}


SERVING = "tables loader creates later in schema serving"
ANYWHERE = "tables loader creates later anywhere in the database"


def test_a_roles_default_privileges_reach_its_personas_and_no_one_else() -> None:
    result = preview(later_model([
        {"creator": "loader", "schema": "serving", "on": "tables", "privileges": ["SELECT", "INSERT"], "to": ["eu"]}]))
    ann, bob = later(result, "Ann")[SERVING], later(result, "Bob")[SERVING]
    assert (ann.access, ann.privileges, ann.usage) == ("ok", ("SELECT", "INSERT"), True)
    assert (bob.access, bob.privileges) == ("none", ())
    assert "a new table has RLS off and no masking: every row, unmasked" in ann.describe()


def test_privileges_without_usage_on_the_schema_are_denied_and_name_it() -> None:
    result = preview(later_model([
        {"creator": "loader", "schema": "serving", "on": "tables", "privileges": ["SELECT"], "to": ["us"]}]))
    bob = later(result, "Bob")[SERVING]
    assert bob.access == "denied"
    assert bob.describe() == "denied, missing USAGE on schema serving (default privileges give SELECT)"


def test_public_reaches_every_persona_and_roles_granted_to_a_group_count() -> None:
    result = preview(later_model([
        {"creator": "loader", "on": "tables", "privileges": ["SELECT"], "to": ["PUBLIC"]},
        {"creator": "loader", "on": "tables", "privileges": ["ALL"], "to": ["reader"]},  # reader: granted to all
        {"creator": "loader", "on": "procedures", "privileges": ["EXECUTE"], "to": ["boss"]}]))
    for name in ("Ann", "Bob", "Both", "Boss"):
        anywhere = later(result, name)[ANYWHERE]
        assert anywhere.privileges == ("SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "TRUNCATE")
        assert anywhere.usage is None and "where it has USAGE on the schema" in anywhere.describe()
    procedures = "procedures loader creates later anywhere in the database"
    assert later(result, "Boss")[procedures].privileges == ("EXECUTE",)
    assert later(result, "Ann")[procedures].access == "none"
    assert [v.objects for v in next(p for p in result.personas if p.persona.name == "Ann").later] == [
        "TABLES", "PROCEDURES"]  # the grammar's order


def test_the_three_forms_show_it() -> None:
    result = preview(later_model([
        {"creator": "loader", "schema": "serving", "on": "tables", "privileges": ["SELECT"], "to": ["eu"]}]))
    text = render_text(result)
    assert (f"  {SERVING}: SELECT (default privileges; a new table has RLS off and no masking: every row, unmasked, "
            "until a deploy attaches policies to it)") in text
    assert f"  {SERVING}: nothing (no default privilege names its roles or PUBLIC)" in text  # Bob
    assert f"| Ann | {SERVING} | SELECT | - | - | default privileges |" in render_markdown(result)
    ann = next(p for p in json.loads(render_json(result))["personas"] if p["name"] == "Ann")
    assert ann["later"] == [{"creator": "loader", "schema": "serving", "objects": "TABLES", "access": "ok",
                             "privileges": ["SELECT"], "schema_usage": True}]


def test_a_model_without_default_privileges_shows_none() -> None:
    result = preview(model())
    assert all(p.later == [] for p in result.personas)
    assert "creates later" not in render_text(result)


def lint_codes(data: dict[str, Any]) -> list[str]:
    compiled = parse_model(data, name="test", source=SOURCE)
    return [w.message for w in default_privilege_lints(compiled.model)]


def test_select_on_later_tables_for_a_role_rls_restricts_is_linted_naming_entry_role_and_restriction() -> None:
    messages = lint_codes(later_model([
        {"creator": "loader", "schema": "s", "on": "tables", "privileges": ["SELECT"], "to": ["eu", "boss"]}]))
    assert len(messages) == 1  # boss has IGNORE RLS: nothing restricts it
    assert messages[0].startswith("access/test.yaml: default_privileges[0].to[0]: eu gets SELECT on the tables loader "
                                  "creates later in schema s, but the model restricts eu there (RLS on s.t)")


def test_masking_attached_to_public_restricts_every_role_and_an_unrestricted_schema_is_not_linted() -> None:
    masking = {"policies": [{"name": "hide", "with": {"owner": "VARCHAR(40)"}, "using": "'***'::VARCHAR(40)",
                             "attach": [{"table": "s.t", "columns": ["owner"], "to": "PUBLIC"}]}]}
    messages = lint_codes(later_model([
        {"creator": "loader", "schema": "s", "on": "tables", "privileges": ["ALL"], "to": ["boss"]},
        {"creator": "loader", "schema": "serving", "on": "tables", "privileges": ["SELECT"], "to": ["eu"]},
        {"creator": "loader", "on": "tables", "privileges": ["INSERT"], "to": ["eu"]},  # no SELECT: not linted
        {"creator": "loader", "on": "functions", "privileges": ["EXECUTE"], "to": ["eu"]}], masking=masking))
    assert [m.split(":")[1].strip() for m in messages] == ["default_privileges[0].to[0]"]
    assert "masking policy hide on s.t" in messages[0]


def test_the_federated_sample_shows_later_tables_and_raises_no_lint() -> None:
    checked = checked_model(load_environment("sample-federated"))
    assert checked.lints == () and checked.preview is not None and checked.preview.failures == []
    ana = next(p for p in checked.preview.personas if p.persona.name == "ana")
    assert [(v.title, v.access) for v in ana.later] == [
        ("tables etl_loader creates later in schema reports", "ok"),
        ("tables etl_loader creates later in schema serving", "none")]
