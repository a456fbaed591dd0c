"""The model's lints (issue 23, item 5): `python-udf-in-policy` fires for an RLS or masking policy that calls a
function the model's scripts create with LANGUAGE plpythonu (Redshift ends Python UDFs after June 30, 2026: the
banner on the Database Developer Guide's pages, and the AWS Big Data Blog post it links), naming the policy, the
function and the script; not for a SQL UDF; and `allow_warnings` accepts it as it accepts the preview's lints."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.checked import checked_model
from redshift_idc.access.functions import Call, called_udfs, created_functions
from redshift_idc.access.model_lints import PYTHON_UDF_END, model_lints
from redshift_idc.access.scripts import script_entry
from redshift_idc.cli.main import main as cli
from redshift_idc.config.environment import load_environment
from tests.conftest import run_captured

ROOT = Path(__file__).resolve().parents[1]
PYTHON_UDF = ("CREATE OR REPLACE FUNCTION util.f_redact (s VARCHAR(50))\nRETURNS VARCHAR STABLE AS $$\n"
              "  return s[:3] + '***'\n$$ LANGUAGE plpythonu;\n")
SQL_UDF = ("CREATE OR REPLACE FUNCTION util.f_redact (VARCHAR)\nRETURNS VARCHAR STABLE AS $$\n"
           "  SELECT LEFT($1, 3) || '***'\n$$ LANGUAGE sql;\n")
LAMBDA_UDF = ("CREATE EXTERNAL FUNCTION f_lookup (INT) RETURNS INT VOLATILE LAMBDA 'lookup' "
              "IAM_ROLE 'arn:aws:iam::123456789012:role/udf';\n")


# ---------------------------------------------------------------------- the scripts' functions, parsed


def test_the_scripts_functions_are_read_with_their_language_signature_and_script() -> None:
    scripts = [script_entry("udf.sql", PYTHON_UDF + LAMBDA_UDF
                            + "create function f_double(float) returns float immutable as $$ select $1 * 2 $$ "
                              "language sql;\n")]
    assert [(f.schema, f.name, f.arguments, f.language, f.script) for f in created_functions(scripts)] == [
        ("util", "f_redact", ("VARCHAR",), "plpythonu", "udf.sql"),
        (None, "f_double", ("DOUBLE PRECISION",), "sql", "udf.sql")]  # the Lambda UDF has no LANGUAGE


def test_a_later_script_replacing_the_python_udf_in_sql_leaves_the_sql_one() -> None:
    """`(s VARCHAR(50))` and `(VARCHAR)` are one signature: CREATE OR REPLACE in SQL is the migration."""
    scripts = [script_entry("udf.sql", PYTHON_UDF), script_entry("udf_in_sql.sql", SQL_UDF)]
    assert [(f.language, f.script) for f in created_functions(scripts)] == [("sql", "udf_in_sql.sql")]


def test_a_call_reaches_the_functions_of_its_name_in_its_schema() -> None:
    functions = created_functions([script_entry("udf.sql", PYTHON_UDF)])
    assert called_udfs(Call("F_Redact", None), functions) == functions  # unqualified: the search path decides
    assert called_udfs(Call("f_redact", "UTIL"), functions) == functions
    assert called_udfs(Call("f_redact", "other"), functions) == []
    assert called_udfs(Call("f_redacted", None), functions) == []


# ---------------------------------------------------------------------- the lint on a project


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def _model(copy: Path, *scripts: tuple[str, str], allow: bool = False, using: str = "util.f_redact(sku)",
           rls: bool = False) -> None:
    """The demo's model with `scripts` added and a policy calling `using`: a masking policy, or an RLS policy
    (`rls`). Without expectations: the preview cannot evaluate a UDF."""
    data: dict[str, Any] = yaml.safe_load((copy / "access" / "demo.yaml").read_text(encoding="utf-8"))
    for name, text in scripts:
        (copy / "sql" / name).write_text(text, encoding="utf-8")
    data["scripts"] += [name for name, _ in scripts]
    data["schemas"] = ["util"]
    data.pop("expect")
    if rls:
        data["rls"]["policies"].append({"name": "redacted_rows", "with": {"sku": "VARCHAR(50)"},
                                        "using": f"{using} <> sku",
                                        "attach": [{"table": "public.sales_data", "to": ["exec-global"]}]})
    else:
        data["masking"] = {"policies": [{"name": "redact_sku", "with": {"sku": "VARCHAR(50)"},
                                         "using": f"{using}::VARCHAR(50)",
                                         "attach": [{"table": "public.sales_data", "columns": ["sku"],
                                                     "to": "amer-sales"}]}]}
    if allow:
        data["allow_warnings"].append({"code": "python-udf-in-policy", "reason": "migrating in ticket 42"})
    (copy / "access" / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_a_masking_policy_calling_a_python_udf_is_named_with_the_function_and_the_script(copy: Path) -> None:
    _model(copy, ("udf.sql", PYTHON_UDF))
    [lint] = checked_model(load_environment("demo")).lints
    assert lint.code == "python-udf-in-policy"
    assert lint.message.startswith(
        "access/demo.yaml: masking.policies[0]: masking policy redact_sku calls util.f_redact(), which sql/udf.sql "
        "creates as util.f_redact(VARCHAR) LANGUAGE plpythonu: Redshift ends support for Python UDFs after June 30, "
        f"2026 ({PYTHON_UDF_END})"), lint.message
    assert "Rewrite the function as a SQL UDF" in lint.message


def test_an_rls_policy_calling_one_unqualified_is_named_too(copy: Path) -> None:
    _model(copy, ("udf.sql", PYTHON_UDF), using="f_redact(sku)", rls=True)
    [lint] = checked_model(load_environment("demo")).lints
    assert lint.message.startswith("access/demo.yaml: rls.policies[3]: RLS policy redacted_rows calls f_redact(), "
                                   "which sql/udf.sql creates as util.f_redact(VARCHAR) LANGUAGE plpythonu"), lint


@pytest.mark.parametrize("scripts", [[("udf.sql", SQL_UDF)], [("udf.sql", PYTHON_UDF), ("udf_sql.sql", SQL_UDF)]],
                         ids=["a SQL UDF", "a Python UDF replaced in SQL by a later script"])
def test_no_lint_for_a_sql_udf(copy: Path, scripts: list[tuple[str, str]]) -> None:
    _model(copy, *scripts)
    checked = checked_model(load_environment("demo"))
    assert checked.lints == () and not any("python-udf-in-policy" in w for w in checked.warnings)


def test_validate_and_plan_show_it_and_plan_strict_fails_on_it(copy: Path) -> None:
    _model(copy, ("udf.sql", PYTHON_UDF))
    code, out, err = run_captured(lambda: cli(["validate", "--env", "demo"]))
    assert code == 0 and "access/demo.yaml is valid" in out
    assert "warning: [python-udf-in-policy] access/demo.yaml: masking.policies[0]: masking policy redact_sku" in err
    code, out, _ = run_captured(lambda: cli(["plan", "--env", "demo"]))
    assert code == 0
    assert "-- warning: [python-udf-in-policy] access/demo.yaml: masking.policies[0]" in out
    code, _, err = run_captured(lambda: cli(["plan", "--env", "demo", "--strict"]))
    assert code == 1
    assert err.startswith("--strict: warning [python-udf-in-policy]: access/demo.yaml: masking.policies[0]"), err


def test_allow_warnings_accepts_it_as_it_accepts_the_previews_lints(copy: Path) -> None:
    _model(copy, ("udf.sql", PYTHON_UDF), allow=True)
    checked = checked_model(load_environment("demo"))
    assert [w.code for w in model_lints(checked.model, checked.scripts)] == ["python-udf-in-policy"]  # still found
    assert checked.lints == () and not any("python-udf-in-policy" in w for w in checked.warnings)
    code, out, _ = run_captured(lambda: cli(["plan", "--env", "demo", "--strict"]))
    assert code == 0 and "python-udf-in-policy" not in out


def test_an_unknown_code_in_allow_warnings_is_refused_with_the_known_ones(copy: Path) -> None:
    data: dict[str, Any] = yaml.safe_load((copy / "access" / "demo.yaml").read_text(encoding="utf-8"))
    data["allow_warnings"].append({"code": "python-udf", "reason": "typo"})
    (copy / "access" / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, _, err = run_captured(lambda: cli(["validate", "--env", "demo"]))
    assert code == 2 and "allow_warnings[2].code" in err and "'python-udf-in-policy'" in err, err
