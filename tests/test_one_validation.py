"""`validate`, `plan` and synth give the same verdict and the same message on the same files.

Each case breaks one thing in a copy of the project's `config/`, `access/` and `sql/` (`project.ROOT`
points at the copy), then runs the three as a user does, in-process: `python -m redshift_idc validate`,
`python -m redshift_idc plan` and `app.py` (what `cdk synth` runs). All three must exit 2 with one
identical message that names the file and the field, with the expected wording. Synth here never builds
a stack: the model is checked before any is built, so a case costs milliseconds, not a synth.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import app as cdk_app
from redshift_idc import project
from redshift_idc.cdk import app_start
from redshift_idc.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]
Edit = Callable[[Path], None]


def model(change: Callable[[dict[str, Any]], None], name: str = "access/demo.yaml") -> Edit:
    def edit(root: Path) -> None:
        path = root / name
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return edit


def config(change: Callable[[dict[str, Any]], None]) -> Edit:
    return model(change, "config/demo.yaml")


def text(name: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / name
        content = path.read_text(encoding="utf-8")
        assert old in content, f"{name} no longer holds {old!r}"
        path.write_text(content.replace(old, new), encoding="utf-8")
    return edit


def append(name: str, extra: str) -> Edit:
    def edit(root: Path) -> None:
        with (root / name).open("a", encoding="utf-8") as handle:
            handle.write(extra)
    return edit


def policy(index: int, using: str) -> Edit:
    return model(lambda d: d["rls"]["policies"][index].update(using=using))


def grant(index: int, **values: Any) -> Edit:
    return model(lambda d: d["table_grants"][index].update(values))


def second_environment(ledger_schema: str) -> Edit:
    """config/demo-two.yaml: demo's warehouse and database, deploying access/demo-two.yaml (which sets only
    `ledger_schema`: the check reads nothing else of another environment's model)."""
    def edit(root: Path) -> None:
        data = yaml.safe_load((root / "config" / "demo.yaml").read_text(encoding="utf-8"))
        data["access_model"] = "demo-two"
        (root / "config" / "demo-two.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        (root / "access" / "demo-two.yaml").write_text(f"ledger_schema: {ledger_schema}\n", encoding="utf-8")
    return edit


A = "access/demo.yaml"
C = "config/demo.yaml"
CASES: list[tuple[str, Edit, str, str]] = [
    # --- the issue's defects
    ("script file missing", model(lambda d: d["scripts"].append("demo/003_missing.sql")), A,
     "scripts[2]: no such file sql/demo/003_missing.sql"),
    ("dangling AND", policy(0, "timezone LIKE 'Asia%' AND"), A,
     "rls.policies[0].using: not a valid SQL expression: 'AND' has nothing after it"),
    ("NUL in a literal", policy(0, "timezone LIKE 'Amer\x00ica%'"), A,
     "rls.policies[0].using: the expression contains a NUL character"),
    ("schema typo in a scoped grant", grant(1, all_tables_in="sales_schem"), A,
     "table_grants[1].all_tables_in: unknown schema 'sales_schem'; did you mean 'sales_schema'?"),
    ("schema typo in a schema grant", model(lambda d: d["schema_grants"][1].update(schema="finance_schem")), A,
     "schema_grants[1].schema: unknown schema 'finance_schem'; did you mean 'finance_schema'?"),
    ("ledger schema with a tab", model(lambda d: d.update(ledger_schema="bad\tschema")), A,
     "ledger_schema: "),
    ("table key in SQL quotes", model(lambda d: d["tables"].update({'Finance-EU."Sales Data 2024"': ["a"]})), A,
     "write 'Finance-EU.Sales Data 2024' (names are quoted for you)"),
    ("script with an unclosed block comment", append("sql/demo/002_sales_and_finance_schemas.sql",
                                                      "\n/* seed rows; never closed\nSELECT 1;\n"), A,
     "scripts[1]: sql/demo/002_sales_and_finance_schemas.sql: line "),
    # --- messages in YAML's words
    ("privileges as a string", model(lambda d: d["schema_grants"][0].update(privileges="USAGE")), A,
     "schema_grants[0].privileges: expected a list, e.g. [USAGE]"),
    ("privilege typo", model(lambda d: d["schema_grants"][0].update(privileges=["USAGEE"])), A,
     "schema_grants[0].privileges[0]: 'USAGEE' is not one of USAGE, CREATE, ALTER, DROP; did you mean 'USAGE'?"),
    ("two zones", config(lambda d: d.update(availability_zones=["us-east-1a", "us-east-1b"])), C,
     "availability_zones: three zones of us-east-1 are needed"),
    ("region with underscores", config(lambda d: d.update(region="us_east_1")), C,
     "region: expected an AWS region name, e.g. us-east-1"),
    ("access model name with a space", config(lambda d: d.update(access_model="Demo Model")), C,
     "access_model: expected the name of a file under access/"),
    ("cidr with a host part", config(lambda d: d["network"].update(cidr="10.40.0.0/8")), C,
     "network.cidr: expected an IPv4 CIDR block from /16 to /24"),
    ("YAML syntax error", append(A, "\nfoo: [unclosed\n"), A,
     "not valid YAML: the '[' opened at line 79, column 6 is not closed: close it with ']' on the same line"),
    # --- further malformed inputs
    ("== in a policy", policy(1, "timezone == 'x'"), A, "'==' is not an SQL operator"),
    ("subquery in a policy", policy(1, "timezone IN (SELECT tz FROM t)"), A, "a lookup subquery reads one table"),
    ("lookup of an undeclared table", policy(1, "timezone IN (SELECT tz FROM s.t)"), A,
     "the lookup table s.t is not declared"),
    ("comment in a policy", policy(1, "timezone = 'x' -- sneaky"), A, "comments are not allowed"),
    ("statement after a policy", policy(1, "timezone = 'x'; DROP TABLE t"), A, "';' is not allowed"),
    ("adjacent literals", policy(1, "timezone = 'a' 'b'"), A, "two string literals side by side"),
    ("unclosed parenthesis", policy(1, "(timezone = 'a'"), A, "a '(' is not closed"),
    ("unclosed literal", policy(1, "timezone = 'a"), A, "a quote (' or \") is not closed"),
    ("backslash in a literal", policy(1, "timezone LIKE 'Asia\\%'"), A, "backslash"),
    ("qualified column", policy(1, "t.timezone = 'a'"), A, "qualified names"),
    ("column outside WITH", policy(1, "region = 'a'"), A, "column(s) region not declared in WITH"),
    ("alias in a policy", policy(1, "timezone = 'a' x"), A, "an alias"),
    ("empty IN list", policy(1, "timezone IN ()"), A, "IN () needs at least one value"),
    ("trailing comma", policy(1, "timezone IN ('a',)"), A, "a trailing comma before ')'"),
    ("dollar quoting", policy(1, "timezone = $$a$$"), A, "dollar-quoted strings are not allowed"),
    ("unknown role in an attachment", model(lambda d: d["rls"]["policies"][0]["attach"][0].update(to=["nobody"])), A,
     "rls.policies[0].attach[0].to[0]: unknown role 'nobody'"),
    ("unqualified table", grant(0, tables=["sales_data"]), A, "table_grants[0].tables[0]: 'sales_data' is not schema"),
    ("unknown table", grant(0, tables=["public.sales"]), A, "table_grants[0].tables[0]: unknown table 'public.sales'"),
    ("script outside sql/", model(lambda d: d["scripts"].append("../x.sql")), A,
     "scripts[2]: '../x.sql' is outside sql/"),
    ("persona with an unknown group", model(lambda d: d["personas"][0].update(groups=["no-such-group"])), A,
     "personas[0].groups[0]: 'no-such-group' is not one of the model's roles.idc_groups"),
    ("failing expectation", model(lambda d: d["expect"].insert(0, {"persona": "Frank", "table": "public.sales_data",
                                                                  "rows": 2})), A,
     "expect[0]: persona Frank, public.sales_data: sees 1 row(s), expected 2"),
    ("rows_where naming no column of the table", model(lambda d: d["expect"].insert(0, {
        "persona": "Frank", "table": "public.sales_data", "rows_where": "zone LIKE 'America%'"})), A,
     "expect[0].rows_where: column(s) zone not columns of public.sales_data"),
    ("rows_where that does not parse", model(lambda d: d["expect"].insert(0, {
        "persona": "Frank", "table": "public.sales_data", "rows_where": "timezone LIKE"})), A,
     "expect[0].rows_where: not a valid SQL expression: 'LIKE' has nothing after it"),
    ("sample data file missing", model(lambda d: d.update(sample_data={"public.sales_data": "samples/none.csv"})), A,
     "sample_data.public.sales_data: no such file access/samples/none.csv"),
    ("unknown key with a typo", model(lambda d: d.update(tabel_grants=[])), A,
     "tabel_grants: unknown key; did you mean 'table_grants'?"),
    ("duplicate key", append(A, "\nprune: true\nprune: false\n"), A, "prune"),
    ("account too short as a number", text(C, 'account: "111111111111"', "account: 11111"), C,
     "account: 11111 is not a 12-digit AWS account id as YAML read it; quote the account"),
    ("unknown config key", config(lambda d: d.update(regoin="us-east-1")), C, "regoin: unknown key; did you mean"),
    ("transfer_ownership_to naming no user", model(lambda d: d.update(deprovision_users=True,
                                                                            transfer_ownership_to="nobody")), A,
     "transfer_ownership_to: 'nobody' does not name a user: Redshift objects are owned by users only"),
    ("transfer_ownership_to without deprovision_users", model(lambda d: d.update(transfer_ownership_to="reporting")),
     A, "transfer_ownership_to: only with deprovision_users: true"),
    ("masking output that does not fit its column", model(lambda d: d.update(masking={"policies": [
        {"name": "mask_sku", "with": {"sku": "VARCHAR(50)"}, "using": "sku = 'x'",
         "attach": [{"table": "public.sales_data", "columns": ["sku"], "to": "amer-sales"}]}]})), A,
     "masking.policies[0].using: the expression returns BOOLEAN (boolean), but the column it masks is VARCHAR(50) "
     "(text), the type of its WITH column sku; Redshift requires a masking policy's output to fit the column it "
     "masks: return the column's type, e.g. CASE WHEN ... THEN sku ELSE '***' END, or cast it: "
     "CAST(... AS VARCHAR(50))"),
    # --- types and functions checked before deploy (issue 21)
    ("misspelled WITH type", model(lambda d: d["rls"]["policies"][0]["with"].update(timezone="VARCHR(50)")), A,
     "rls.policies[0].with.timezone: unknown data type 'VARCHR(50)'; did you mean 'VARCHAR(50)'?"),
    ("misspelled masking input type", model(lambda d: d.update(masking={"policies": [
        {"name": "mask_quantity", "with": {"quantity": "INTEGR"}, "using": "quantity",
         "attach": [{"table": "public.sales_data", "columns": ["quantity"], "to": "amer-sales"}]}]})), A,
     "masking.policies[0].with.quantity: unknown data type 'INTEGR'; did you mean 'INTEGER'?"),
    ("misspelled function", policy(0, "lowerr(timezone) LIKE 'europe%'"), A,
     "rls.policies[0].using: unknown function 'lowerr' (neither a function Redshift documents nor one the model's "
     "scripts create: CREATE FUNCTION in a file under `scripts`); did you mean 'lower'?"),
    ("two ledger schemas in one database", second_environment("team_ledger"), C,
     "access model 'demo' keeps its ledger in schema 'redshift_idc', but config/demo-two.yaml deploys access model "
     "'demo-two' to the same workgroup redshift-tip-enabled and database dev with ledger_schema 'team_ledger': "
     "access models deployed to one database must use the same ledger_schema"),
]


def _run(call: Callable[[], int]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = call()
    return code, err.getvalue().strip()


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def verdicts(root: Path, environment: str = "demo") -> dict[str, tuple[int, str]]:
    def synth() -> int:
        return cdk_app.main(app_start.new_app(outdir=str(root / "cdk.out"), context={"env": environment}))
    return {"validate": _run(lambda: cli(["validate", "--env", environment])),
            "plan": _run(lambda: cli(["plan", "--env", environment])),
            "synth": _run(synth)}


def test_there_are_at_least_twenty_cases_beyond_the_issues() -> None:
    assert len(CASES) - 15 >= 20


@pytest.mark.parametrize(("case", "edit", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validate_plan_and_synth_agree(copy: Path, case: str, edit: Edit, source: str, expected: str) -> None:
    edit(copy)
    results = verdicts(copy)
    assert {name: code for name, (code, _) in results.items()} == {"validate": 2, "plan": 2, "synth": 2}, results
    messages = {message for _, message in results.values()}
    assert len(messages) == 1, results
    message = messages.pop()
    assert message.startswith(f"{source}:"), message  # the file first, as the project names it
    assert expected in message, message
    assert "Traceback" not in message


def test_a_twelve_digit_account_needs_no_quotes(copy: Path) -> None:
    text(C, 'account: "111111111111"', "account: 111111111111")(copy)
    assert {name: code for name, (code, _) in verdicts(copy).items()} == {"validate": 0, "plan": 0, "synth": 0}


def test_two_environments_on_one_database_with_one_ledger_schema_are_valid(copy: Path) -> None:
    second_environment("REDSHIFT_IDC")(copy)  # the same schema as the demo model's (names fold)
    assert {name: code for name, (code, _) in verdicts(copy).items()} == {"validate": 0, "plan": 0, "synth": 0}


def test_an_unknown_environment_suggests_the_right_name(copy: Path) -> None:
    results = verdicts(copy, "Demo")
    assert {code for code, _ in results.values()} == {2}
    assert len({message for _, message in results.values()}) == 1
    assert "no such environment 'Demo'; did you mean 'demo'?" in results["validate"][1]
