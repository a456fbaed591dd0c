"""Types and functions in policies are checked before deploy (issue 21): a type Redshift does not document in a
WITH column or a cast, and a function neither Redshift documents nor the model's scripts create, are refused at
validation with the field and the nearest valid name; a known function the preview cannot evaluate leaves the
model valid, and the preview says so without DuckDB's own error.

Sources: AWS pages c_Supported_data_types (types and aliases), r_Numeric_types201, r_Character_types,
r_VARBYTE_type (limits), the SQL functions reference (redshift_functions.py names each function's page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.functions import calls, check_functions, preview_blocker, script_functions
from redshift_idc.access.model import parse_model
from redshift_idc.access.preview.results import Persona
from redshift_idc.access.preview.translate import translate
from redshift_idc.access.redshift_functions import FUNCTIONS
from redshift_idc.access.redshift_types import SPELLINGS, DataTypeError, check_data_type
from redshift_idc.access.scripts import script_entry
from redshift_idc.config.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEMO = "access/demo.yaml"


def demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / DEMO).read_text(encoding="utf-8"))
    return data


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_model(data, name="demo", source=Path(DEMO))
    return str(raised.value)


# ------------------------------------------------------------------------------------------------ types

# c_Supported_data_types: each type with its aliases, as the page's table lists them.
DOCUMENTED = {
    "SMALLINT": ["INT2"], "INTEGER": ["INT", "INT4"], "BIGINT": ["INT8"], "DECIMAL": ["NUMERIC"],
    "REAL": ["FLOAT4"], "DOUBLE PRECISION": ["FLOAT8", "FLOAT"], "BOOLEAN": ["BOOL"],
    "CHAR": ["CHARACTER", "NCHAR", "BPCHAR"], "VARCHAR": ["CHARACTER VARYING", "NVARCHAR", "TEXT"], "DATE": [],
    "TIME": ["TIME WITHOUT TIME ZONE"], "TIMETZ": ["TIME WITH TIME ZONE"],
    "TIMESTAMP": ["TIMESTAMP WITHOUT TIME ZONE"], "TIMESTAMPTZ": ["TIMESTAMP WITH TIME ZONE"],
    "INTERVAL YEAR TO MONTH": [], "INTERVAL DAY TO SECOND": [], "HLLSKETCH": [], "SUPER": [],
    "VARBYTE": ["VARBINARY", "BINARY VARYING"], "GEOMETRY": [], "GEOGRAPHY": [],
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_documented_type_and_alias_is_accepted_in_any_case(name: str) -> None:
    for spelling in (name, *DOCUMENTED[name]):
        assert check_data_type(spelling) == name
        assert check_data_type(spelling.lower().replace(" ", "  ")) == name
    assert {spelling for spelling, (documented, _) in SPELLINGS.items() if documented == name} >= {
        name, *DOCUMENTED[name]}


@pytest.mark.parametrize(("text", "expected"), [
    ("VARCHAR(65535)", "VARCHAR"), ("CHAR(4096)", "CHAR"), ("DECIMAL(38,37)", "DECIMAL"), ("NUMERIC(10, 2)", "DECIMAL"),
    ("VARBYTE(16777216)", "VARBYTE"), ("INTERVAL DAY TO SECOND(6)", "INTERVAL DAY TO SECOND"),
    ("INTERVAL YEAR", "INTERVAL YEAR TO MONTH"),
])
def test_documented_limits_are_accepted(text: str, expected: str) -> None:
    assert check_data_type(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("VARCHR(50)", "unknown data type 'VARCHR(50)'; did you mean 'VARCHAR(50)'?"),
    ("INTEGR", "unknown data type 'INTEGR'; did you mean 'INTEGER'?"),
    ("JSON", "unknown data type 'JSON' (Redshift's types: SMALLINT, INTEGER"),
    ("VARCHAR(65536)", "65536 is outside 1..65535"),  # r_Character_types
    ("CHAR(4097)", "4097 is outside 1..4096"),
    ("DECIMAL(39)", "39 is outside 1..38"),  # r_Numeric_types201
    ("DECIMAL(5,6)", "the scale (6) is larger than the precision (5)"),
    ("VARBYTE(16777217)", "outside 1..16777216"),  # r_VARBYTE_type
    ("VARCHAR(MAX)", "write the length as a number: VARCHAR(65535)"),
    ("TEXT(10)", "TEXT takes no parameters"),
    ("INTEGER(4)", "INTEGER takes no parameters"),
    ("INTERVAL DAY(3)", "INTERVAL DAY takes no parameters"),
    ("INTERVAL SECOND(7)", "7 is outside 0..6"),  # r_interval_data_types: at most six digits
])
def test_unknown_types_and_parameters_are_refused_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(DataTypeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        check_data_type(text)


def test_a_misspelled_with_type_is_refused_at_validation_naming_the_field() -> None:
    data = demo()
    data["rls"]["policies"][0]["with"] = {"timezone": "VARCHR(50)"}
    assert refusal(data) == ("access/demo.yaml: rls.policies[0].with.timezone: unknown data type 'VARCHR(50)'; "
                             "did you mean 'VARCHAR(50)'?")


def test_a_misspelled_masking_input_type_is_refused_naming_the_field() -> None:
    data = demo()
    data["masking"] = {"policies": [{"name": "mask_quantity", "with": {"quantity": "INTEGR"}, "using": "quantity",
                                     "attach": [{"table": "public.sales_data", "columns": ["quantity"],
                                                 "to": "amer-sales"}]}]}
    assert refusal(data) == ("access/demo.yaml: masking.policies[0].with.quantity: unknown data type 'INTEGR'; "
                             "did you mean 'INTEGER'?")


@pytest.mark.parametrize(("using", "message"), [
    ("'***'::VARCHR(50)", "unknown data type 'VARCHR'; did you mean 'VARCHAR'?"),
    ("CAST('***' AS INTEGR)", "unknown data type 'INTEGR'; did you mean 'INTEGER'?"),
    ("CAST(sku AS JSON)", "unknown data type 'JSON' in a cast"),  # sqlglot reads it; Redshift has no JSON type
])
def test_a_masking_output_cast_to_an_unknown_type_is_refused(using: str, message: str) -> None:
    data = demo()
    data["masking"] = {"policies": [{"name": "mask_sku", "with": {"sku": "VARCHAR(50)"}, "using": using,
                                     "attach": [{"table": "public.sales_data", "columns": ["sku"],
                                                 "to": "amer-sales"}]}]}
    error = refusal(data)
    assert error.startswith("access/demo.yaml: masking.policies[0].using: ") and message in error, error


# ------------------------------------------------------------------------------------------------ functions


def test_a_misspelled_function_is_refused_at_validation_with_the_nearest_name() -> None:
    data = demo()
    data["rls"]["policies"][0]["using"] = "lowerr(timezone) LIKE 'europe%'"
    error = refusal(data)
    assert error.startswith("access/demo.yaml: rls.policies[0].using: unknown function 'lowerr' ("), error
    assert error.endswith("; did you mean 'lower'?"), error


@pytest.mark.parametrize(("using", "message"), [
    ("SUM(population) > 1", "SUM is an aggregate or window function"),  # c_Aggregate_Functions, r_WHERE_clause
    ("ROW_NUMBER() OVER () = 1", "ROW_NUMBER is an aggregate or window function"),
    ("NOW() > \"timestamp\"", "NOW runs on the leader node only"),  # c_SQL_functions_leader_node_only
    ("IFF(population > 1, TRUE, FALSE)", "unknown function 'IFF'"),  # Snowflake's; sqlglot reads it
    ("OVERLAY(city PLACING 'x' FROM 1) = 'x'", "unknown function 'OVERLAY'"),  # PostgreSQL's
])
def test_functions_a_policy_cannot_use_are_refused_with_the_reason(using: str, message: str) -> None:
    data = demo()
    data["rls"]["policies"][0]["with"] = {"population": "INTEGER", "timestamp": "TIMESTAMP", "city": "VARCHAR(100)"}
    data["rls"]["policies"][0]["using"] = using
    error = refusal(data)
    assert error.startswith("access/demo.yaml: rls.policies[0].using: ") and message in error, error


def test_calls_are_read_as_written_also_where_sqlglot_renames_them() -> None:
    expression = ("NVL(LOWER(a), 'x') = TRIM(BOTH ' ' FROM b) AND GETDATE() > c::TIMESTAMP AND "
                  "SUBSTRING(a, 1, 2) = CAST(d AS VARCHAR(2)) AND public.f_mask(a) = \"UPPER\"(b) AND sysdate > c")
    assert [(c.name, c.schema) for c in calls(expression)] == [
        ("NVL", None), ("LOWER", None), ("TRIM", None), ("GETDATE", None), ("SUBSTRING", None), ("CAST", None),
        ("f_mask", "public"), ("UPPER", None)]


SCRIPT = script_entry("udf.sql", "-- a masking helper\nCREATE OR REPLACE FUNCTION f_redact (VARCHAR)\n"
                                 "RETURNS VARCHAR IMMUTABLE AS $$ SELECT 'x' || $1 $$ LANGUAGE sql;\n"
                                 "CREATE FUNCTION util.\"F_Hash\" (VARCHAR) RETURNS VARCHAR IMMUTABLE AS $$ "
                                 "SELECT MD5($1) $$ LANGUAGE sql;\n")


def test_the_scripts_udfs_are_accepted_and_only_in_their_schema() -> None:
    """The DDM page t_ddm documents UDFs in masking policies, t_rls_limitations in RLS policies."""
    created = script_functions([SCRIPT])
    assert created == {"f_redact": frozenset({None}), "f_hash": frozenset({"util"})}
    check_functions("f_redact(a) = 'x' AND util.f_hash(a) = 'y' AND F_REDACT(a) <> ''", lambda: created)
    with pytest.raises(ExpressionError, match=r"unknown function 'other.f_hash' \(not a function the model's "
                                              r"scripts create in that schema"):
        check_functions("other.f_hash(a) = 'y'", lambda: created)
    with pytest.raises(ExpressionError, match=r"unknown function 'f_redcat' .*; did you mean 'f_redact'\?$"):
        check_functions("f_redcat(a) = 'x'", lambda: created)


def test_the_scripts_are_read_only_when_a_name_is_not_redshifts() -> None:
    def never() -> dict[str, frozenset[str | None]]:
        raise AssertionError("the scripts were read")

    check_functions("lower(a) = upper(b) AND md5(a) = sha2(b, 256)", never)


def test_a_model_using_a_udf_its_script_creates_compiles_and_a_misspelled_one_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "udf.sql").write_text(SCRIPT["Sql"], encoding="utf-8")
    monkeypatch.setattr(project, "ROOT", tmp_path)
    data = demo()
    data["scripts"] = ["udf.sql"]
    data["masking"] = {"policies": [{"name": "redact_sku", "with": {"sku": "VARCHAR(50)"},
                                     "using": "f_redact(sku)::VARCHAR(50)",
                                     "attach": [{"table": "public.sales_data", "columns": ["sku"],
                                                 "to": "amer-sales"}]}]}
    compiled = parse_model(data, name="demo", source=Path(DEMO))
    assert [p.using for p in compiled.desired.of_kind("masking_policy").values()  # type: ignore[attr-defined]
            ] == ["f_redact(sku)::VARCHAR(50)"]
    data["masking"]["policies"][0]["using"] = "f_redakt(sku)::VARCHAR(50)"
    assert refusal(data).endswith("did you mean 'f_redact'?")


def test_every_function_the_sample_models_use_is_known() -> None:
    models = [*sorted((ROOT / "access").glob("*.yaml")), *sorted((ROOT / "examples").rglob("access/*.yaml"))]
    assert len(models) >= 3
    expressions = []
    for path in models:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for kind in ("rls", "masking"):
            expressions += [p["using"] for p in (data.get(kind) or {}).get("policies", ())]
        expressions += [e["rows_where"] for e in data.get("expect", ()) if "rows_where" in e]
    assert expressions
    for expression in expressions:
        check_functions(expression, dict)


# ------------------------------------------------------------------------------------------------ the preview

PERSONA = Persona("ann", ("eu",), "awsidc:ann", ("awsidc:eu", "public"))
# Each function the table says the preview evaluates, with an example and Redshift's answer (the AWS page's
# example where it gives one: r_ASCII, r_BTRIM, r_CHAR_LENGTH, r_CONCAT, r_LEFT, r_POSITION, r_SUBSTRING,
# r_MD5, r_ADD_MONTHS, r_LAST_DAY, r_DATEDIFF_function).
PREVIEW_EXAMPLES: dict[str, tuple[str, object]] = {
    "ASCII": ("ASCII('amazon')", 97), "BTRIM": ("BTRIM('xyzaxyzbxyzcxyz', 'xyz')", "axyzbxyzc"),
    "CHAR_LENGTH": ("CHAR_LENGTH('français')", 8), "CHARACTER_LENGTH": ("CHARACTER_LENGTH('français')", 8),
    "CHR": ("CHR(65)", "A"), "CONCAT": ("CONCAT('December 25,', '2008')", "December 25,2008"),
    "LEFT": ("LEFT('Amazon', 3)", "Ama"), "RIGHT": ("RIGHT('Amazon', 3)", "zon"), "LEN": ("LEN('français')", 8),
    "LENGTH": ("LENGTH('français')", 8), "LOWER": ("LOWER('AbC')", "abc"), "UPPER": ("UPPER('abc')", "ABC"),
    "LPAD": ("LPAD('abc', 5, 'x')", "xxabc"), "RPAD": ("RPAD('abc', 5, 'x')", "abcxx"),
    "LTRIM": ("LTRIM('xxabc', 'x')", "abc"), "RTRIM": ("RTRIM('abcxx', 'x')", "abc"),
    "TRIM": ("TRIM('xxdogxx', 'x')", "dog"), "POSITION": ("POSITION('fish' IN 'dogfish')", 4),
    "STRPOS": ("STRPOS('dogfish', 'fish')", 4), "CHARINDEX": ("CHARINDEX('fish', 'dogfish')", 4),
    "REPEAT": ("REPEAT('ab', 3)", "ababab"), "REPLACE": ("REPLACE('Shows', 'Shows', 'Theatre')", "Theatre"),
    "REVERSE": ("REVERSE('abc')", "cba"), "SPLIT_PART": ("SPLIT_PART('a,b,c', ',', 2)", "b"),
    "SUBSTR": ("SUBSTR('caterpillar', 6, 4)", "pill"), "SUBSTRING": ("SUBSTRING('caterpillar', 6, 4)", "pill"),
    "INITCAP": ("INITCAP('hello world')", "Hello World"),
    "ABS": ("ABS(-38)", 38), "CEILING": ("CEILING(1.5)", 2), "CEIL": ("CEIL(1.5)", 2), "FLOOR": ("FLOOR(1.5)", 1),
    "MOD": ("MOD(10, 4)", 2), "SIGN": ("SIGN(-8)", -1), "ROUND": ("ROUND(-2.5)", -3), "SQRT": ("SQRT(16)", 4),
    "POWER": ("POWER(2, 3)", 8), "POW": ("POW(2, 3)", 8), "LN": ("LN(1)", 0), "EXP": ("EXP(0)", 1),
    "EXTRACT": ("EXTRACT(year FROM CAST('2008-12-31' AS DATE))", 2008),
    "DATE_PART": ("DATE_PART(year, CAST('2008-12-31' AS DATE))", 2008),
    "DATE_TRUNC": ("DATE_TRUNC('month', CAST('2008-12-31' AS DATE)) = CAST('2008-12-01' AS TIMESTAMP)", True),
    "DATEADD": ("DATEADD(day, 1, CAST('2008-12-31' AS DATE)) = CAST('2009-01-01' AS TIMESTAMP)", True),
    "DATEDIFF": ("DATEDIFF(week, CAST('2009-01-01' AS DATE), CAST('2009-12-31' AS DATE))", 52),
    "ADD_MONTHS": ("ADD_MONTHS(CAST('2008-03-31' AS DATE), 1) = CAST('2008-04-30' AS TIMESTAMP)", True),
    "LAST_DAY": ("LAST_DAY(CAST('2008-02-15' AS DATE)) = CAST('2008-02-29' AS DATE)", True),
    "COALESCE": ("COALESCE(NULL, 'x')", "x"), "NVL": ("NVL(NULL, 'x')", "x"), "NVL2": ("NVL2(NULL, 'a', 'b')", "b"),
    "NULLIF": ("NULLIF('a', 'a')", None), "DECODE": ("DECODE(2, 1, 'one', 2, 'two', 'other')", "two"),
    "GREATEST": ("GREATEST(1, 3, 2)", 3), "LEAST": ("LEAST(1, 3, 2)", 1),
    "CAST": ("CAST('12' AS INTEGER)", 12), "CONVERT": ("CONVERT(INTEGER, '12')", 12),
    "MD5": ("MD5('Amazon Redshift')", "f7415e33f972c03abd4f3fed36748f7a"),
    "CURRENT_USER": ("CURRENT_USER", "awsidc:ann"), "USER": ("USER", "awsidc:ann"),
    "USER_IS_MEMBER_OF": ("USER_IS_MEMBER_OF(CURRENT_USER, 'awsidc:eu')", True),
}


def test_every_function_the_preview_claims_is_evaluated_as_redshift_answers() -> None:
    assert {name for name, f in FUNCTIONS.items() if f.preview} == set(PREVIEW_EXAMPLES)
    db = duckdb.connect()
    for name, (expression, expected) in PREVIEW_EXAMPLES.items():
        assert preview_blocker(expression) is None, name
        row = db.execute("SELECT " + translate(expression, "test", PERSONA)).fetchone()
        assert row is not None and row[0] == expected, (name, row)


@pytest.mark.parametrize("expression", ["fnv_hash(a) = 1", "f_redact(a) = 'x'", "public.f_redact(a) = 'x'"])
def test_what_the_preview_cannot_evaluate_is_named_before_duckdb_sees_it(expression: str) -> None:
    name = expression.split("(")[0]
    assert preview_blocker(expression) == name
    parse_expression(expression)
