"""Issue 21, item 2: a fake that is evidence, not belief.

Every catalog query the runtime sends has its row shape in `tests/fake_shapes.py` (ROW_SHAPES: the source, an AWS
page or a peer's file, and the status documented / seen on a real cluster (source) / assumed), and the fakes answer
it with rows as wide as its SELECT list. Where a fake's value forms differed from the AWS page's example, the fake
now answers the documented form; the reader is fed the documented example rows (the page's name beside them).
The registry's assumed parts are the open questions of the README's Redshift notes (`python -m tests.fake_shapes`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from redshift_idc.deployed.conformance.objects import USERS_NAMESPACE, Extras
from redshift_idc.deployed.conformance.recorder import read_set
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessState,
    ExternalSchema,
    IdentityProvider,
    MaskingAttachment,
    RlsAttachment,
    RlsTable,
    Role,
    SchemaPrivilege,
)
from redshift_idc.runtime.catalog import identity_queries, other_ledger_queries, parse_snapshot, read_queries
from redshift_idc.runtime.catalog_import import column_queries, definition_queries, ledger_table_query
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.user_blockers import blocker_queries
from redshift_idc.runtime.users import user_queries
from tests.fake_conformance import record_with_fake
from tests.fake_data_api import svv_rows
from tests.fake_redshift import FakeRedshift
from tests.fake_shapes import ASSUMED, ROW_SHAPES, open_questions, pattern_of, valid_status

# Answered by the fake running their own SQL over its ledger tables: their width is the SELECT's by construction,
# and the recording below holds none of their rows (no scripts, no other ledger schema).
RUN_BY_THE_FAKE = {"scripts", "other_ledger_schemas"}


def runtime_query_names() -> set[str]:
    """Every catalog read query the runtime and the deployed tools send, by registry key (bootstrap DDL left out)."""
    tables = LedgerTables()
    queries = [*read_queries(tables, "m", bootstrap=True, users_namespace="ns"), *identity_queries(),
               *definition_queries(), *user_queries("ns"), *blocker_queries("ns", "'ns:%'"),
               *other_ledger_queries(["other"]), *column_queries([("s", "t")]), ledger_table_query("s"),
               *read_set()]
    return {pattern_of(name) for name, _ in queries if not name.startswith("bootstrap_")}


def test_every_catalog_query_the_runtime_sends_has_a_cited_row_shape() -> None:
    missing = sorted(runtime_query_names() - set(ROW_SHAPES))
    assert not missing, (f"catalog queries without a row shape in tests/fake_shapes.py: {missing}. Add each to "
                         "ROW_SHAPES with the AWS page or peer file it follows and its status")


def test_every_cited_row_shape_is_a_query_the_runtime_sends() -> None:
    stale = sorted(set(ROW_SHAPES) - runtime_query_names())
    assert not stale, f"tests/fake_shapes.py cites shapes of queries the runtime no longer sends: {stale}"


def test_each_shape_names_its_source_and_a_status_and_each_assumption_is_an_open_question() -> None:
    for name, shape in ROW_SHAPES.items():
        assert shape.row.strip() and shape.source.strip(), name
        assert valid_status(shape.status), f"{name}: status {shape.status!r} is not documented, assumed or seen ..."
        if shape.status == ASSUMED:
            assert shape.open, f"{name} is assumed: say what is open (ROW_SHAPES[...].open)"
        assert all(question.strip().endswith((".", "?", ")")) for question in shape.open), name
    assert open_questions(), "the README's open questions come from here"


# ------------------------------------------------------------------------------ the fakes' rows, their width


def selected_width(sql: str) -> int:
    """How many cells a row of `sql` has: its (first) SELECT list."""
    tree = sqlglot.parse_one(sql, read="redshift")
    while isinstance(tree, exp.Union):
        tree = tree.left
    assert isinstance(tree, exp.Select), sql
    return len(tree.expressions)


def rich_recording(tmp_path: Path) -> dict[str, Any]:
    """The conformance recorder's reads against a fake holding one of everything: IdC, Glue and datashare forms,
    and users of its namespace with a grant, an owned table, a default privilege, ASSUMEROLE and a grant made."""
    fake = FakeRedshift()
    bob, dave = f"{USERS_NAMESPACE}:bob", f"{USERS_NAMESPACE}:dave"
    fake.sign_in(bob)
    fake.sign_in(dave)
    fake.create_owned(bob, "table", "sales", "orders")
    fake.execute(f'GRANT USAGE ON SCHEMA "sales" TO "{dave}"')
    fake.alter_default_privileges(bob, dave, "SELECT", schema="sales")
    fake.grant_assumerole(bob)
    fake.grant_as(dave, "table", "sales", "orders", "r", bob)
    extras = Extras("arn:aws:sso::111111111111:application/ssoins-1/apl-1", "arn:aws:iam::111111111111:role/idc",
                    "lake_db", "arn:aws:redshift:us-east-1:111111111111:datashare:ns/share")
    code, _, err, _ = record_with_fake(tmp_path / "rich.json", fake, extras=extras, force=True)
    assert code == 0, err
    reads: dict[str, Any] = json.loads((tmp_path / "rich.json").read_text(encoding="utf-8"))["reads"]
    return reads


def test_the_fakes_answer_every_query_with_rows_as_wide_as_its_select_list(tmp_path: Path) -> None:
    reads = rich_recording(tmp_path)
    checked = set()
    for name, read in reads.items():
        width = selected_width(read["sql"])
        for row in read["rows"]:
            assert len(row) == width, f"{name}: the fake answers {row} to a SELECT of {width} columns"
        if read["rows"]:
            checked.add(pattern_of(name))
    unchecked = sorted(set(ROW_SHAPES) - checked - RUN_BY_THE_FAKE)
    assert not unchecked, f"no row of these queries was checked: {unchecked}"


# ---------------------------------------- documented value forms: the fake answers them, the reader reads them


def test_rls_relations_come_back_in_lower_case_as_the_view_stores_them() -> None:
    # r_SVV_RLS_RELATION: rls_conjunction_type is character(3), its example row `... | t | t | and | and`.
    fake = FakeRedshift()
    fake.execute('ALTER TABLE "public"."t" ROW LEVEL SECURITY ON CONJUNCTION TYPE OR')
    fake.execute('ALTER TABLE "public"."u" ROW LEVEL SECURITY ON')
    rows = svv_rows(fake.state(), user="admin", superuser=True, secadmin=True)["rls_relations"]
    assert sorted(rows) == [("public", "t", True, "or"), ("public", "u", True, "and")]
    documented = [("public", "tickit_category_redshift", True, "and")]  # r_SVV_RLS_RELATION's example (t = true)
    state = parse_snapshot({"rls_relations": [*rows, *documented]}).state
    assert set(state.of_kind(RlsTable.KIND).values()) == {
        RlsTable("public", "t", "OR"), RlsTable("public", "u", "AND"), RlsTable("public", "tickit_category_redshift")}


def test_masking_attachment_columns_are_compact_json_arrays_of_names() -> None:
    # r_SVV_ATTACHED_MASKING_POLICY names input_columns / output_columns without an example; netcheck-de's
    # masking_policy_attachment_sql.go (run on real clusters) decodes them as `["email"]`.
    state = AccessState.of([Role("analyst"), MaskingAttachment("mask", "public", "customers", ("email", "phone"),
                                                               "analyst", (), 3)])
    (row,) = svv_rows(state, user="admin", superuser=True, secadmin=True)["masking_attachments"]
    assert row == ("mask", "public", "customers", "analyst", "role", 3, '["email","phone"]', '["email","phone"]')
    netcheck = ("mask", "public", "customers", "public", "public", 0, '["email"]', '["email"]')
    parsed = parse_snapshot({"masking_attachments": [row, netcheck]}).state
    attachments = [a for a in parsed.of_kind(MaskingAttachment.KIND).values() if isinstance(a, MaskingAttachment)]
    assert {(a.grantee, a.output_columns, a.input_columns) for a in attachments} == {
        ("analyst", ("email", "phone"), ("email", "phone")), (PUBLIC_GRANTEE, ("email",), ("email",))}


def test_the_reader_takes_the_documented_example_rows() -> None:
    rows: dict[str, list[tuple[Any, ...]]] = {
        # r_SVV_RLS_ATTACHED_POLICY, example query
        "rls_attachments": [("public", "tickit_category_redshift", "policy_concerts", "analyst", "role"),
                            ("public", "tickit_category_redshift", "policy_concerts", "dbadmin", "role")],
        # r_SVV_SCHEMA_PRIVILEGES, example query (its role row; the read asks for no user's): scope SCHEMA
        "schema_privileges": [("test_schema1", "USAGE", "role1", "SCHEMA", "role")],
        # r_SVV_EXTERNAL_SCHEMAS, example
        "external_schemas": [("spectrum", "redshift")],
        # r_SVV_IDENTITY_PROVIDERS, example query (name, type, namespc, enabled `t`)
        "identity_providers": [("rs5517_azure_idp", "azure", "abc", True)],
        # r_SVV_ROLES / r_roles-default: the system roles are listed and never managed
        "roles": [("analyst",), ("dbadmin",), ("role1",), ("sys:secadmin",)],
    }
    state = parse_snapshot(rows).state
    assert set(state.of_kind(RlsAttachment.KIND).values()) == {
        RlsAttachment("policy_concerts", "public", "tickit_category_redshift", "analyst"),
        RlsAttachment("policy_concerts", "public", "tickit_category_redshift", "dbadmin")}
    assert set(state.of_kind(SchemaPrivilege.KIND).values()) == {SchemaPrivilege("test_schema1", "USAGE", "role1")}
    assert set(state.of_kind(ExternalSchema.KIND).values()) == {ExternalSchema("spectrum", "redshift")}
    assert set(state.of_kind(IdentityProvider.KIND).values()) == {
        IdentityProvider("rs5517_azure_idp", "azure", "abc", enabled=True)}
    assert set(state.of_kind(Role.KIND).values()) == {Role("analyst"), Role("dbadmin"), Role("role1")}
