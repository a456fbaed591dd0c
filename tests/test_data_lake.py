"""The data lake and datashares through IdC (issue 12 item 2, seed 000): external schemas over Data Catalog
databases and databases from a datashare or Glue ARN, each DDL statement alone (CREATE/DROP DATABASE cannot
run in a transaction block), USAGE on both granted in the batches, and nothing dropped that the model did
not create."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access.checked import checked_model
from redshift_idc.access.model import parse_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_text import render_for_review
from redshift_idc.runtime.access_state import AccessState, DatabasePrivilege, ExternalDatabase, ExternalSchema
from redshift_idc.runtime.catalog import parse_snapshot
from redshift_idc.runtime.ledger import steps
from redshift_idc.runtime.planner import plan
from tests.fake_data_api import svv_rows
from tests.fake_redshift import FakeRedshift

SOURCE = Path("access/lake.yaml")
SHARE_ARN = "arn:aws:redshift:us-east-1:111111111111:datashare:01234567-89ab-cdef-0123-456789abcdef/sales_share"
GLUE_ARN = "arn:aws:glue:us-east-1:123456789012:database/redshift_external_db-iad"
MODEL: dict[str, Any] = {
    "roles": {"idc_groups": ["sales", "finance"]},
    "external_schemas": [{"name": "my_external_schema", "catalog_database": "my_lf_integrated_db",
                          "catalog_id": "123456789012"}],
    "databases": [{"name": "redshift_external_db", "from_arn": GLUE_ARN}],
    "schema_grants": [{"schema": "my_external_schema", "privileges": ["USAGE"], "to": ["sales"]}],
    "database_grants": [{"database": "redshift_external_db", "privileges": ["USAGE"], "to": ["sales", "finance"]}],
}


def compiled(data: dict[str, Any]) -> AccessState:
    return parse_model(data, name="lake", source=SOURCE).desired


def test_the_seeds_statements_in_order_ddl_alone_and_first() -> None:
    planned = plan(compiled(MODEL), AccessState())
    alone = [s.sql for s in planned.statements if not s.transactional]
    assert alone == [
        f"CREATE DATABASE \"redshift_external_db\" FROM ARN '{GLUE_ARN}' WITH NO DATA CATALOG SCHEMA",
        "CREATE EXTERNAL SCHEMA \"my_external_schema\" FROM DATA CATALOG DATABASE 'my_lf_integrated_db' "
        "CATALOG_ID '123456789012'",
    ]
    batched = [s.sql for s in planned.statements if s.transactional]
    assert 'GRANT USAGE ON DATABASE "redshift_external_db" TO ROLE "AWSIDC:sales"' in batched
    assert 'GRANT USAGE ON SCHEMA "my_external_schema" TO ROLE "AWSIDC:sales"' in batched
    sent = [step.sqls for step in steps(planned, "lake")]
    assert sent[0] == (alone[0],) and sent[2] == (alone[1],)  # each alone, its ledger row right after it
    assert all("IAM_ROLE" not in sql for sql in planned.sql)  # IdC governs access (seed 000)
    review = render_for_review(planned, [])
    assert "WITH NO DATA CATALOG SCHEMA;  -- runs alone (ExecuteStatement)" in review


def test_create_no_op_change_and_remove_on_the_fake() -> None:
    fake = FakeRedshift()  # refuses CREATE/DROP DATABASE inside a batch, like Redshift
    desired = compiled(MODEL)
    fake.apply(plan(desired, fake.state()), "lake")
    assert plan(desired, fake.state(), fake.ledger("lake")).statements == []
    # read back through the catalog reader too
    rows = svv_rows(fake.state(), user="admin", superuser=True, secadmin=True)
    current = parse_snapshot({**rows, "ledger": fake.ledger_rows("lake")}).state
    assert current.get(ExternalDatabase.KIND, ("redshift_external_db",)) is not None
    assert current.get(ExternalSchema.KIND, ("my_external_schema",)) is not None
    assert plan(desired, current, fake.ledger("lake")).statements == []

    moved = copy.deepcopy(MODEL)
    moved["databases"][0]["from_arn"] = SHARE_ARN
    change = plan(compiled(moved), fake.state(), fake.ledger("lake"))
    assert change.sql == ['DROP DATABASE "redshift_external_db"',
                          f"CREATE DATABASE \"redshift_external_db\" FROM ARN '{SHARE_ARN}' "
                          "WITH NO DATA CATALOG SCHEMA",
                          'GRANT USAGE ON DATABASE "redshift_external_db" TO ROLE "AWSIDC:finance"',
                          'GRANT USAGE ON DATABASE "redshift_external_db" TO ROLE "AWSIDC:sales"']
    fake.apply(change, "lake")
    assert plan(compiled(moved), fake.state(), fake.ledger("lake")).statements == []

    gone = {"roles": MODEL["roles"]}
    removal = plan(compiled(gone), fake.state(), fake.ledger("lake"))
    assert [s.sql for s in removal.statements if not s.transactional] == [
        'DROP DATABASE "redshift_external_db"', 'DROP SCHEMA "my_external_schema"']
    assert removal.statements[-1].sql == 'DROP SCHEMA "my_external_schema"'  # after the revokes
    fake.apply(removal, "lake")
    state = fake.state()
    assert not state.of_kind(ExternalDatabase.KIND) and not state.of_kind(DatabasePrivilege.KIND)


def test_objects_someone_else_made_are_never_dropped_even_with_prune() -> None:
    fake = FakeRedshift()
    fake.execute("CREATE EXTERNAL SCHEMA \"spectrum\" FROM DATA CATALOG DATABASE 'theirs'")
    fake.execute(f"CREATE DATABASE \"their_share\" FROM ARN '{SHARE_ARN}' WITH NO DATA CATALOG SCHEMA")
    planned = plan(compiled({"roles": MODEL["roles"], "prune": True}), fake.state(), fake.ledger("lake"),
                   prune=True)
    assert not any("spectrum" in s or "their_share" in s for s in planned.sql)


def test_an_existing_object_as_declared_is_adopted() -> None:
    fake = FakeRedshift()
    fake.execute(f"CREATE DATABASE \"redshift_external_db\" FROM ARN '{GLUE_ARN}' WITH NO DATA CATALOG SCHEMA")
    planned = plan(compiled(MODEL), fake.state(), fake.ledger("lake"))
    assert not any(s.startswith("CREATE DATABASE") for s in planned.sql)
    assert ("external_database", ("redshift_external_db",)) in {(e.kind, e.key) for e in planned.adopt}


@pytest.mark.parametrize(("change", "field", "expected"), [
    (lambda d: d["external_schemas"][0].pop("catalog_database"), "external_schemas[0].catalog_database",
     "required: the Data Catalog database the schema reads"),
    (lambda d: d["external_schemas"][0].update(catalog_id="12345678901234"), "external_schemas[0].catalog_id",
     "'12345678901234' is not a Data Catalog id"),
    (lambda d: d["databases"][0].update(from_arn="arn:aws:s3:::bucket"), "databases[0].from_arn",
     "is not a datashare or Glue database ARN"),
    (lambda d: d["databases"][0].update(from_arn="redshift_external_db"), "databases[0].from_arn",
     "is not a datashare or Glue database ARN"),
    (lambda d: d["database_grants"][0].update(database="redshift_external"), "database_grants[0].database",
     "unknown database 'redshift_external'; did you mean 'redshift_external_db'?"),
    (lambda d: d["schema_grants"][0].update(schema="my_external_schem"), "schema_grants[0].schema",
     "did you mean 'my_external_schema'?"),
    (lambda d: d["databases"].append(copy.deepcopy(d["databases"][0])), "databases[1].name",
     "duplicate database 'redshift_external_db'"),
])
def test_bad_input_names_the_field(change: Any, field: str, expected: str) -> None:
    data = copy.deepcopy(MODEL)
    change(data)
    with pytest.raises(ConfigError) as error:
        compiled(data)
    assert str(error.value).startswith(str(SOURCE)) and field in str(error.value) and expected in str(error.value)


def test_the_lakehouse_sample_plans_every_new_kind_and_meets_its_expectations() -> None:
    """config/sample-lakehouse.yaml: points 2-4 of the issue in one model, checked as `make plan` checks it."""
    checked = checked_model(load_environment("sample-lakehouse"))  # raises on a failed expectation
    sql = plan(checked.desired, AccessState()).sql
    assert any(s.startswith('CREATE DATABASE "shared_finance" FROM ARN') for s in sql)
    assert any(s.startswith('CREATE EXTERNAL SCHEMA "lake_sales"') for s in sql)
    assert 'GRANT USAGE ON DATABASE "shared_finance" TO ROLE "AWSIDC:finance"' in sql
    assert 'GRANT SELECT ON TABLE "security"."entitlements" TO RLS POLICY "orders_by_entitlement"' in sql
    assert any(s.startswith('ATTACH MASKING POLICY "hide_email"') and "TO PUBLIC PRIORITY 10" in s for s in sql)
    assert checked.preview is not None and not checked.preview.failures


def test_a_changed_catalog_replaces_the_external_schema_and_grants_usage_again() -> None:
    fake = FakeRedshift()
    fake.apply(plan(compiled(MODEL), fake.state()), "lake")
    moved = copy.deepcopy(MODEL)
    moved["external_schemas"][0]["catalog_database"] = "my_lf_integrated_db_v2"
    change = plan(compiled(moved), fake.state(), fake.ledger("lake"))
    assert change.sql == [
        'DROP SCHEMA "my_external_schema"',
        "CREATE EXTERNAL SCHEMA \"my_external_schema\" FROM DATA CATALOG DATABASE 'my_lf_integrated_db_v2' "
        "CATALOG_ID '123456789012'",
        'GRANT USAGE ON SCHEMA "my_external_schema" TO ROLE "AWSIDC:sales"',
    ]
    assert [s.transactional for s in change.statements] == [False, False, True]
    fake.apply(change, "lake")
    assert plan(compiled(moved), fake.state(), fake.ledger("lake")).statements == []
