"""A masking policy whose output does not fit the column it masks is refused at validation.

Redshift: the masking expression's output must fit the target column's type and size, and a constant
expression must be cast to the input type (REDSHIFT_REFERENCE.md 3.7, [D38][D43]). The first tests drive
`check_masking_output` directly (one refusal and one acceptance per rule); the last ones go through the
access model, where the message names the file and `masking.policies[i].using`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access.expressions import ExpressionError
from redshift_idc.access.masking_output import Attachment, check_masking_output
from redshift_idc.access.model import ACCESS_DIR, parse_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import MaskingPolicy

SKU = [("sku", "VARCHAR(50)")]
CARDS = [("card", "VARCHAR(20)"), ("customer_id", "INTEGER"), ("note", "VARCHAR(100)")]


def refusal(expression: str, columns: list[tuple[str, str]], attachments: tuple[Attachment, ...] = ()) -> str:
    with pytest.raises(ExpressionError) as error:
        check_masking_output(expression, columns, attachments)
    return str(error.value)


@pytest.mark.parametrize(("expression", "columns", "expected"), [
    # the issue's case: a boolean on a VARCHAR column, with both fixes the reviewer can take
    ("sku = 'x'", SKU, "the expression returns BOOLEAN (boolean), but the column it masks is VARCHAR(50) (text), the "
     "type of its WITH column sku; Redshift requires a masking policy's output to fit the column it masks: return "
     "the column's type, e.g. CASE WHEN ... THEN sku ELSE '***' END, or cast it: CAST(... AS VARCHAR(50))"),
    ("LENGTH(sku)", SKU, "returns INTEGER (number), but the column it masks is VARCHAR(50) (text)"),
    ("CURRENT_DATE", SKU, "returns DATE (date-time), but the column it masks is VARCHAR(50) (text)"),
    ("amount > 0", [("amount", "DECIMAL(10,2)")], "returns BOOLEAN (boolean), but the column it masks is "
     "DECIMAL(10,2) (number), the type of its WITH column amount; Redshift requires a masking policy's output to "
     "fit the column it masks: return the column's type, e.g. CASE WHEN ... THEN amount ELSE 0 END"),
    ("TO_CHAR(born, 'YYYY')", [("born", "DATE")], "returns VARCHAR (text), but the column it masks is DATE "
     "(date-time)"),
    ("CAST(1 AS INTEGER)", [("active", "BOOLEAN")], "returns INTEGER (number), but the column it masks is BOOLEAN "
     "(boolean)"),
    ("'1'::VARCHAR(1)", [("n", "INT4")], "returns VARCHAR(1) (text), but the column it masks is INT4 (number)"),
])
def test_another_type_family_is_refused(expression: str, columns: list[tuple[str, str]], expected: str) -> None:
    assert expected in refusal(expression, columns)


@pytest.mark.parametrize(("expression", "columns", "expected"), [
    ("'" + "x" * 20 + "'::VARCHAR(60)", SKU, "can return CAST('" + "x" * 20 + "' AS VARCHAR(60)), a VARCHAR(60): 60 "
     "bytes"),
    ("CAST(sku AS VARCHAR(60))", SKU, "the expression can return CAST(sku AS VARCHAR(60)), a VARCHAR(60): 60 bytes, "
     "but the column it masks is VARCHAR(50), the type of its WITH column sku: at most 50 bytes; Redshift requires "
     "a masking policy's output to fit the column it masks: shorten it, or cast it: CAST(... AS VARCHAR(50))"),
    ("sku::VARCHAR(MAX)", SKU, "a VARCHAR(MAX): 65535 bytes"),
    # a branch is what the column receives; VARCHAR counts bytes, so 'é' takes two
    ("CASE WHEN sku LIKE 'A%' THEN sku ELSE '" + "é" * 26 + "' END", SKU, "can return the string 'ééé"),
    ("CASE WHEN sku LIKE 'A%' THEN sku ELSE '" + "é" * 26 + "' END", SKU, "52 bytes"),
    ("COALESCE(sku, '" + "x" * 51 + "')", SKU, "51 bytes, but the column it masks is VARCHAR(50)"),
    ("'abcd'::CHAR(4)", [("code", "CHAR(3)")], "a CHAR(4): 4 bytes, but the column it masks is CHAR(3)"),
])
def test_text_longer_than_the_column_is_refused(expression: str, columns: list[tuple[str, str]],
                                                expected: str) -> None:
    assert expected in refusal(expression, columns)


def test_a_long_literal_is_shown_shortened() -> None:
    message = refusal("'" + "x" * 500 + "'::VARCHAR(500)", SKU)
    assert "x" * 100 not in message and "…" in message, message


@pytest.mark.parametrize(("expression", "shown"), [("'****'", "'****'"), ("(NULL)", "NULL")])
def test_a_constant_must_be_cast_to_the_input_type(expression: str, shown: str) -> None:
    assert refusal(expression, SKU) == (
        f"the expression is the constant {shown}, and Redshift requires a constant masking expression to be cast to "
        f"the input type: cast it: CAST({shown} AS VARCHAR(50))")


@pytest.mark.parametrize(("expression", "columns"), [
    # text
    ("sku", SKU),
    ("'****'::VARCHAR(50)", SKU),
    ("CAST('****' AS VARCHAR(4))", SKU),
    ("CASE WHEN sku LIKE 'A%' THEN sku ELSE 'x' END", SKU),
    ("'" + "é" * 25 + "'::VARCHAR(50)", SKU),  # 50 bytes: fits exactly
    ("LEFT(sku, 3) || '***'", SKU),  # a concatenation's length is not written: Redshift decides
    ("'***'::TEXT", SKU),  # TEXT says no length here
    ("code", [("code", "CHAR(3)")]),
    # number: within the family Redshift documents INT/NUMERIC exceptions, so none is refused
    ("0::INTEGER", [("n", "INTEGER")]),
    ("n * 0", [("n", "BIGINT")]),
    ("ROUND(amount, 0)", [("amount", "DECIMAL(10,2)")]),
    ("CASE WHEN n > 100 THEN 100 ELSE n END", [("n", "SMALLINT")]),
    # boolean
    ("active AND FALSE", [("active", "BOOLEAN")]),
    ("CAST(FALSE AS BOOLEAN)", [("active", "BOOL")]),
    # date-time
    ("CAST('1900-01-01' AS DATE)", [("born", "DATE")]),
    ("CURRENT_DATE", [("at", "TIMESTAMP")]),
    ("born + 1", [("born", "DATE")]),
    # no type sqlglot can tell: left to Redshift
    ("my_udf(sku)", SKU),
    ("DECODE(sku, 'a', 'b', 'c')", SKU),
    ("x", [("x", "SUPER")]),
])
def test_an_output_of_the_column_type_passes(expression: str, columns: list[tuple[str, str]]) -> None:
    check_masking_output(expression, columns, ())


def test_several_outputs_are_each_checked() -> None:
    assert refusal("(sku, 1)", SKU).startswith("output 2 of the expression (1) returns INTEGER (number), but the "
                                               "column it masks is VARCHAR(50) (text)")
    check_masking_output("(sku, LOWER(sku))", SKU, ())


def test_a_policy_of_several_columns_is_checked_through_its_attachments() -> None:
    """The masked column takes the type of the WITH column it is read as; one that is none of the
    attachment's inputs has no known type."""
    reads_card = Attachment("attach[0]", "public.cards", ["card"], ["card", "customer_id", "note"])
    assert refusal("customer_id > 100", CARDS, (reads_card,)).startswith(
        "the expression returns BOOLEAN (boolean), but public.cards.card, which attach[0] masks, is VARCHAR(20) "
        "(text), the type of WITH column card, as which attach[0] reads it; ")
    assert "WITH column note, a VARCHAR(100): 100 bytes, but public.cards.card" in refusal(
        "CASE WHEN customer_id > 100 THEN note ELSE card END", CARDS, (reads_card,))
    check_masking_output("CASE WHEN customer_id > 100 THEN '****'::VARCHAR(4) ELSE card END", CARDS, (reads_card,))
    elsewhere = Attachment("attach[1]", "public.cards", ["masked"], ["card", "customer_id", "note"])
    check_masking_output("customer_id > 100", CARDS, (elsewhere,))
    check_masking_output("customer_id > 100", CARDS, ())  # no attachment: nothing says what it masks
    by_id = Attachment("attach[2]", "public.cards", ["customer_id"], ["note", "customer_id", "card"])
    assert "public.cards.customer_id, which attach[2] masks, is INTEGER (number)" in refusal(
        "card", CARDS, (elsewhere, by_id))


# ---------------------------------------------------------------------------------- in the access model

DEMO_ENV = load_environment("demo")
DEMO: dict[str, Any] = yaml.safe_load((ACCESS_DIR / "demo.yaml").read_text())
SOURCE = Path("access/test.yaml")


def with_masking(*policies: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(DEMO)
    data["tables"]["public.flags"] = ["id", "active"]
    data["masking"] = {"policies": list(policies)}
    return data


def policy(name: str, with_: dict[str, str], using: str, table: str, columns: list[str],
           **attach: Any) -> dict[str, Any]:
    return {"name": name, "with": with_, "using": using,
            "attach": [{"table": table, "columns": columns, "to": "amer-sales", **attach}]}


def test_the_issues_case_names_the_file_and_field() -> None:
    data = with_masking(policy("mask_sku", {"sku": "VARCHAR(50)"}, "sku = 'x'", "public.sales_data", ["sku"]))
    with pytest.raises(ConfigError) as error:
        parse_model(data, name="test", source=SOURCE, environment=DEMO_ENV)
    assert str(error.value).startswith(
        "access/test.yaml: masking.policies[0].using: the expression returns BOOLEAN (boolean), but the column it "
        "masks is VARCHAR(50) (text)"), error.value
    assert "CASE WHEN ... THEN sku ELSE '***' END" in str(error.value)


def test_an_attachment_of_a_policy_of_several_columns_is_named() -> None:
    data = with_masking(policy("mask_flag", {"active": "BOOLEAN", "id": "INTEGER"}, "id", "public.flags",
                               ["active"], input_columns=["active", "id"]))
    with pytest.raises(ConfigError) as error:
        parse_model(data, name="test", source=SOURCE, environment=DEMO_ENV)
    assert ("access/test.yaml: masking.policies[0].using: the expression returns INTEGER (number), but "
            "public.flags.active, which attach[0] masks, is BOOLEAN (boolean)") in str(error.value), error.value


def test_a_policy_per_type_family_compiles() -> None:
    policies = [
        policy("mask_text", {"sku": "VARCHAR(50)"}, "CASE WHEN sku LIKE 'A%' THEN sku ELSE 'x' END",
               "public.sales_data", ["sku"]),
        policy("mask_number", {"quantity": "INTEGER"}, "0::INTEGER", "public.sales_data", ["quantity"]),
        policy("mask_time", {"timestamp": "TIMESTAMP"}, "CAST(DATE_TRUNC('month', timestamp) AS TIMESTAMP)",
               "public.sales_data", ["timestamp"]),
        policy("mask_flag", {"active": "BOOLEAN", "id": "INTEGER"}, "active AND id > 100", "public.flags",
               ["active"], input_columns=["active", "id"]),
    ]
    state = parse_model(with_masking(*policies), name="test", source=SOURCE, environment=DEMO_ENV).desired
    compiled = {item.name: item.using for item in state if isinstance(item, MaskingPolicy)}
    assert compiled == {p["name"]: p["using"] for p in policies}


@pytest.mark.parametrize("name", ["demo", "sample-lakehouse"])
def test_the_sample_models_still_validate(name: str) -> None:
    environment = load_environment(name)
    data = yaml.safe_load((ACCESS_DIR / f"{name}.yaml").read_text())
    state = parse_model(data, name=name, source=Path(f"access/{name}.yaml"), environment=environment).desired
    assert state
