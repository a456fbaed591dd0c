"""Issue 21, contradiction 6: DROP USER has more blockers than owned objects and direct grants.

Default privileges the user owns or holds (amazon-redshift-utils issue 492; dbsystel's resource_redshift_user.go),
ASSUMEROLE privileges (SVV_IAM_PRIVILEGES; amazon-redshift-utils issue 620) and grants the user made to others
(amazon-redshift-utils' v_generate_user_grant_revoke_ddl.sql) each make DROP USER fail. Before, the drop batch
failed on every deploy; now the user is refused before any DDL, each blocker named with what clears it.
Materialized views are relkind 'v' and their `mv_tbl__*` storage tables relkind 'r': never transferred.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.idc_directory import Verdict
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.phases import USER_DROP_PHASE, USER_TRANSFER_PHASE
from redshift_idc.runtime.user_blockers import acl_items
from redshift_idc.runtime.users import DeprovisionSettings, departures, parse_users, user_queries, with_statements
from tests.fake_redshift import FakeRedshift, RedshiftError
from tests.test_deprovision_users import NS, STORE, Answers, Deploy, departures_of, lakehouse_store, warehouse

# ------------------------------------------------------------------- the reader, on documented shapes


def test_the_reader_names_each_blocker_in_the_documented_row_shapes() -> None:
    """Rows as the AWS pages show them (the example's values, the users given the IdC namespace prefix)."""
    rows: dict[str, list[tuple[Any, ...]]] = {
        "idc_users": [("AWSIDC:u1", False), ("AWSIDC:u2", False)],
        # r_SVV_DEFAULT_PRIVILEGES sample: public | RELATION | 106 | u1 | user | UPDATE | 107 | u2 | user | f
        # (our SELECT: owner_name, schema_name, object_type, privilege_type, grantee_name, grantee_type)
        "idc_user_default_privileges": [("AWSIDC:u1", "public", "RELATION", "UPDATE", "AWSIDC:u2", "user"),
                                        ("AWSIDC:u1", "public", "RELATION", "SELECT", "AWSIDC:u2", "user"),
                                        ("AWSIDC:u1", None, "FUNCTION", "EXECUTE", "reporting", "role")],
        # r_SVV_IAM_PRIVILEGES sample: default-aws-iam-role | COPY | 106 | u1 | user, and EXFUNC
        # (our SELECT: identity_name, iam_arn, command_type)
        "idc_user_iam_privileges": [("AWSIDC:u1", "default-aws-iam-role", "COPY"),
                                    ("AWSIDC:u1", "default-aws-iam-role", "EXFUNC"),
                                    ("AWSIDC:u2", "arn:aws:iam::123456789012:role/Redshift-S3-Read", "UNLOAD")],
        # array_to_string(relacl, ','): PostgreSQL's aclitem text, names quoted (v_generate_user_grant_revoke_ddl)
        "idc_user_grants_made": [("table", "sales", "orders", '"AWSIDC:u9"=arwdRxtD/"AWSIDC:u9",'
                                                              '"AWSIDC:u3"=r/"AWSIDC:u2",=r/"AWSIDC:u2"')],
    }
    catalog = parse_users(rows, NS)
    assert [b.describe() for b in catalog.blockers_of("AWSIDC:u1")] == [
        "holds ASSUMEROLE on default-aws-iam-role for COPY (clear it: REVOKE ASSUMEROLE ON default FROM "
        '"AWSIDC:u1" FOR COPY)',
        "holds ASSUMEROLE on default-aws-iam-role for EXFUNC (clear it: REVOKE ASSUMEROLE ON default FROM "
        '"AWSIDC:u1" FOR EXTERNAL FUNCTION)',
        "owns default privileges: EXECUTE on new functions in the database for reporting (clear it: ALTER DEFAULT "
        'PRIVILEGES FOR USER "AWSIDC:u1" REVOKE EXECUTE ON FUNCTIONS FROM ROLE "reporting")',
        "owns default privileges: SELECT on new tables in schema public for AWSIDC:u2 (clear it: ALTER DEFAULT "
        'PRIVILEGES FOR USER "AWSIDC:u1" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM "AWSIDC:u2")',
        "owns default privileges: UPDATE on new tables in schema public for AWSIDC:u2 (clear it: ALTER DEFAULT "
        'PRIVILEGES FOR USER "AWSIDC:u1" IN SCHEMA "public" REVOKE UPDATE ON TABLES FROM "AWSIDC:u2")',
    ]
    u2 = [b.describe() for b in catalog.blockers_of("AWSIDC:u2")]
    assert u2[:2] == [
        'granted SELECT on table sales.orders to AWSIDC:u3 (clear it: SET SESSION AUTHORIZATION "AWSIDC:u2"; '
        'REVOKE ALL ON TABLE "sales"."orders" FROM "AWSIDC:u3"; RESET SESSION AUTHORIZATION)',
        'granted SELECT on table sales.orders to PUBLIC (clear it: SET SESSION AUTHORIZATION "AWSIDC:u2"; '
        'REVOKE ALL ON TABLE "sales"."orders" FROM PUBLIC; RESET SESSION AUTHORIZATION)']
    assert u2[2].startswith("holds ASSUMEROLE on arn:aws:iam::123456789012:role/Redshift-S3-Read for UNLOAD "
                            "(clear it: REVOKE ASSUMEROLE ON 'arn:aws:iam::123456789012:role/Redshift-S3-Read' "
                            'FROM "AWSIDC:u2" FOR UNLOAD)')
    assert u2[3].startswith("holds default privileges: SELECT on new tables in schema public created by AWSIDC:u1")
    assert not catalog.blockers_of("AWSIDC:u9")  # the owner's own ACL item is not a grant it made

    found = departures(catalog, DeprovisionSettings(NS), [Verdict("AWSIDC:u1", "gone", "left")])
    assert found.statements == []  # refused before any DDL
    assert found.refused[0].advice == "clear each by hand (as a superuser), as shown, then deploy again"


def test_acl_items_keep_quoted_names_whole() -> None:
    assert acl_items('"a,=b""c"=r*w/"AWSIDC:x",group "g"=U/"AWSIDC:x",=T/rdsdb') == [
        ("user", 'a,=b"c', "r*w", "AWSIDC:x"), ("group", "g", "U", "AWSIDC:x"), ("public", "", "T", "rdsdb")]


def test_the_reads_are_selects_that_leave_materialized_view_storage_out() -> None:
    queries = dict(user_queries("AWSIDC"))
    assert all(sql.startswith("SELECT ") for sql in queries.values())
    assert "c.relname NOT LIKE 'mv\\\\_tbl\\\\_\\\\_%'" in queries["idc_user_objects"]
    assert "FROM svv_default_privileges WHERE owner_name ILIKE 'AWSIDC:%'" in queries["idc_user_default_privileges"]
    assert "FROM svv_iam_privileges WHERE identity_type = 'user'" in queries["idc_user_iam_privileges"]


# ------------------------------------------------------------------- the fake and the refusal


def blocked_warehouse() -> FakeRedshift:
    fake = warehouse()
    fake.alter_default_privileges("AWSIDC:bob", "AWSIDC:alice", "SELECT", schema="sales")
    fake.grant_assumerole("AWSIDC:bob", "default-aws-iam-role", "COPY")
    fake.sign_in("AWSIDC:dave")
    fake.grant_as("AWSIDC:dave", "table", "sales", "orders", "r", "AWSIDC:alice")  # with grant option, not owner
    return fake


def test_the_fake_refuses_drop_user_while_a_blocker_exists() -> None:
    fake = blocked_warehouse()
    fake.sign_in("AWSIDC:gail")
    fake.alter_default_privileges("AWSIDC:gail", "AWSIDC:alice", "INSERT")
    fake.grant_assumerole("AWSIDC:gail", "arn:aws:iam::123456789012:role/Redshift-S3-Read", "EXFUNC")
    with raises("owner of default privileges on new relations belonging to user AWSIDC:gail"):  # #492
        fake.execute('DROP USER "AWSIDC:gail"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "AWSIDC:gail" REVOKE INSERT ON TABLES FROM "AWSIDC:alice"')
    with raises("the user has a privilege on some object"):  # ASSUMEROLE: amazon-redshift-utils#620
        fake.execute('DROP USER "AWSIDC:gail"')
    fake.execute('REVOKE ASSUMEROLE ON \'arn:aws:iam::123456789012:role/Redshift-S3-Read\' FROM "AWSIDC:gail" FOR '
                 "EXTERNAL FUNCTION")
    fake.execute('DROP USER "AWSIDC:gail"')
    with raises("the user has a privilege on some object"):
        fake.execute('DROP USER "AWSIDC:dave"')  # the grantor of a grant to alice


def raises(message: str) -> Any:
    return pytest.raises(RedshiftError, match=re.escape(message))


def test_a_gone_user_with_blockers_is_refused_before_any_ddl_naming_each() -> None:
    fake = blocked_warehouse()
    found = departures_of(fake, DeprovisionSettings(NS), Answers(bob="gone", dave="gone"))
    refused = {r.user: r.blockers for r in found.refused}
    assert set(refused) == {"AWSIDC:bob", "AWSIDC:dave"} and found.statements == []
    assert refused["AWSIDC:bob"] == (
        'holds ASSUMEROLE on default-aws-iam-role for COPY (clear it: REVOKE ASSUMEROLE ON default FROM "AWSIDC:bob" '
        "FOR COPY)",
        "owns default privileges: SELECT on new tables in schema sales for AWSIDC:alice (clear it: ALTER DEFAULT "
        'PRIVILEGES FOR USER "AWSIDC:bob" IN SCHEMA "sales" REVOKE SELECT ON TABLES FROM "AWSIDC:alice")')
    assert refused["AWSIDC:dave"] == (
        'granted SELECT on table sales.orders to AWSIDC:alice (clear it: SET SESSION AUTHORIZATION "AWSIDC:dave"; '
        'REVOKE ALL ON TABLE "sales"."orders" FROM "AWSIDC:alice"; RESET SESSION AUTHORIZATION)',)

    # cleared by hand with the statements the refusal names: bob is dropped at the next deploy
    for blocker in refused["AWSIDC:bob"]:
        fake.execute(blocker.split("(clear it: ", 1)[1].rstrip(")"))
    again = departures_of(fake, DeprovisionSettings(NS), Answers(bob="gone"))
    assert again.refused == [] and again.statements[-1].sql == 'DROP USER "AWSIDC:bob"'
    fake.apply(with_statements(plan(AccessState(), fake.state(), fake.ledger("m")), again.statements), "m")
    assert "AWSIDC:bob" not in fake.users


def test_a_deploy_is_refused_up_front_instead_of_failing_its_drop_batch() -> None:
    """The whole handler path: before, the batch's DROP USER failed on every deploy (the fake's 2BP01)."""
    fake = FakeRedshift()
    fake.sign_in("admin")
    fake.sign_in("AWSIDC:erin")  # in no assigned group: gone
    fake.alter_default_privileges("AWSIDC:erin", "reporting", "SELECT", schema="public", grantee_type="role")
    refused = Deploy(fake, lakehouse_store()).run()
    assert not refused.complete
    assert refused.error.startswith("deprovision_users (access/sample-lakehouse.yaml): refusing to drop 1 user(s) "  # noqa: S608
                                    "who left IAM Identity Center, before any change: AWSIDC:erin (in identity "
                                    f"store {STORE}, but in none of the groups the environment assigns (exec, "
                                    "finance, sales)): owns default privileges: SELECT on new tables in schema "
                                    "public for reporting (clear it: ALTER DEFAULT PRIVILEGES FOR USER "
                                    '"AWSIDC:erin" IN SCHEMA "public" REVOKE SELECT ON TABLES FROM ROLE "reporting"); '
                                    "clear each by hand (as a superuser), as shown, then deploy again")
    assert not [sql for sql in fake.history if "USER" in sql]


def test_grants_made_on_an_owned_object_go_with_it_when_transferred() -> None:
    fake = warehouse()
    fake.grant_as("AWSIDC:carol", "table", "carol_sandbox", "scratch", "r", "AWSIDC:alice")
    refused = departures_of(fake, DeprovisionSettings(NS), Answers(carol="gone")).refused
    assert refused[0].blockers == ("owns schema carol_sandbox, table carol_sandbox.scratch, view sales.carol_view",)
    found = departures_of(fake, DeprovisionSettings(NS, "admin", "user"), Answers(carol="gone"))
    assert found.refused == []
    fake.apply(with_statements(plan(AccessState(), fake.state(), fake.ledger("m")), found.statements), "m")
    assert "AWSIDC:carol" not in fake.users


# ------------------------------------------------------------------------------ materialized views


def test_a_materialized_views_storage_table_is_never_transferred() -> None:
    """The view (relkind 'v') is transferred; its `mv_tbl__<view>__0` (relkind 'r') goes with it."""
    fake = warehouse()
    fake.create_owned("AWSIDC:bob", "materialized view", "sales", "daily")
    assert fake.owners[("table", "sales", "mv_tbl__daily__0")] == "AWSIDC:bob"
    with raises("stores a materialized view"):
        fake.execute('ALTER TABLE "sales"."mv_tbl__daily__0" OWNER TO "admin"')
    found = departures_of(fake, DeprovisionSettings(NS, "admin", "user"), Answers(bob="gone"))
    assert found.refused == []
    transfers = [s.sql for s in found.statements if s.phase == USER_TRANSFER_PHASE]
    assert transfers == ['ALTER TABLE "sales"."daily" OWNER TO "admin"']
    assert found.statements[-1].phase == USER_DROP_PHASE
    fake.apply(with_statements(plan(AccessState(), fake.state(), fake.ledger("m")), found.statements), "m")
    assert "AWSIDC:bob" not in fake.users and fake.owners[("table", "sales", "mv_tbl__daily__0")] == "admin"


def test_storage_table_rows_from_an_older_read_are_skipped() -> None:
    rows: dict[str, list[tuple[Any, ...]]] = {"idc_users": [("AWSIDC:bob", False)],
            "idc_user_objects": [("AWSIDC:bob", "view", "sales", "daily"),
                                 ("AWSIDC:bob", "table", "sales", "mv_tbl__daily__0")]}
    found = departures(parse_users(rows, NS), DeprovisionSettings(NS, "admin", "user"),
                       [Verdict("AWSIDC:bob", "gone", "left")])
    assert [s.sql for s in found.statements if s.phase == USER_TRANSFER_PHASE] == [
        'ALTER TABLE "sales"."daily" OWNER TO "admin"']
