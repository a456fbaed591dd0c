"""Fewer, larger statements (runtime/planning/coalesce.py): each coalesced statement covers exactly a box of objects
the plan needs, stays under its bound, keeps the restriction groups and the transition rule, and its ledger rows
commit with it; a failure names what it covered; the model's `coalesce_statements: false` turns it off."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.transition.check import check_plan
from redshift_idc.review.plan_text import render_for_review, wrapped
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    DefaultPrivilege,
    LedgerEntry,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.custom_resource import CustomResourceEvent
from redshift_idc.runtime.ledger import LedgerTables, ledger_parts, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.coalesce import COALESCED_STATEMENT_BYTES, coalesce
from redshift_idc.runtime.planning.object_sql import coalesced_sql, create_sql, list_parts, remove_sql
from redshift_idc.runtime.planning.phases import GRANT_PHASE, REVOKE_PHASE
from redshift_idc.runtime.planning.plan_types import Plan, Statement
from redshift_idc.runtime.reconcile_handler import build_request, model_document
from redshift_idc.runtime.reconcile_request import Request
from redshift_idc.runtime.statement_runner import covered_objects
from tests.fake_data_api import FakeDataApi, ProviderDriver, SimClock, cfn_event, resource_properties
from tests.fake_redshift import FakeRedshift, RedshiftError, differences, expand_list_statement
from tests.test_planner_properties import transitions


def one_sql(action: str, item: AccessObject) -> str:
    return create_sql(item) if action == "add" else remove_sql(item)


def covered(statement: Statement) -> list[tuple[str, AccessObject]]:
    return [("remove", o) for o in statement.removes] + [("add", o) for o in statement.adds]


def roles_state(roles: int, tables: int, *, prefix: str = "AWSIDC:group-") -> AccessState:
    items: list[AccessObject] = [RlsPolicy("p", (("region", "VARCHAR(8)"),), "region = 'EU'")]
    for t in range(tables):
        items.append(RlsTable("sales", f"t{t:02d}"))
    for r in range(roles):
        role = f"{prefix}{r:04d}"
        items += [Role(role), SchemaPrivilege("sales", "USAGE", role),
                  RlsAttachment("p", "sales", f"t{r % tables:02d}", role)]
        items += [TablePrivilege("sales", f"t{t:02d}", privilege, role) for t in range(tables)
                  for privilege in (("SELECT", "INSERT") if r % 3 == 0 else ("SELECT",))]
    return AccessState.of(items)


# ------------------------------------------------------------------------------------------ exact boxes


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transition=transitions())
def test_coalesced_statements_cover_exactly_what_the_plan_needs_and_converge_the_same(
        transition: tuple[AccessState, AccessState]) -> None:
    current, desired = transition
    one_each = plan(desired, current, {}, prune=True)
    merged = plan(desired, current, {}, prune=True, coalesce=True)
    # The same objects, added and removed, as the plan of one statement per object (before restriction groups are
    # sized from what is sent, which may lock fewer groups down, hence the lockdown statements apart).
    def effects(p: Plan) -> Counter[tuple[str, AccessObject]]:
        return Counter(e for s in p.statements if "lockdown" not in s.note for e in covered(s))
    assert effects(merged) == effects(one_each)
    for statement in merged.statements:
        parts = covered(statement)
        expanded = expand_list_statement(statement.sql)
        if statement.covers > 1:
            # The statement stands for exactly the statements of the objects it covers: no grant the model did
            # not ask for, none left out.
            assert expanded is not None and sorted(expanded) == sorted(one_sql(*p) for p in parts)
            assert len({s for s in (o.KIND for _, o in parts)}) == 1
        else:
            assert expanded is None
        assert len(statement.sql.encode("utf-8")) <= COALESCED_STATEMENT_BYTES
    # Applied to the same warehouse, both end in the same catalog, with the same ledger.
    results = []
    for coalesced in (False, True):
        fake = FakeRedshift()
        fake.apply(plan(current, AccessState(), {}, prune=True), "m")
        fake.apply(plan(desired, fake.state(), fake.ledger("m"), prune=True, coalesce=coalesced), "m")
        results.append((fake.state(), fake.ledger("m")))
    assert not differences(results[1][0], results[0][0]) and results[1][1] == results[0][1]


def test_grantees_with_the_same_grants_share_one_statement_and_others_get_their_own() -> None:
    desired = roles_state(30, 4)
    merged = plan(desired, AccessState(), {}, coalesce=True)
    grants = [s for s in merged.statements if s.sql.startswith("GRANT") and " ON TABLE " in s.sql]
    # Every third role also has INSERT: two boxes, INSERT and SELECT for those 10 roles, SELECT for the other 20.
    assert sorted(len(s.adds) for s in grants) == [80, 80]
    both = next(s for s in grants if "INSERT" in s.sql)
    assert both.sql.startswith('GRANT INSERT, SELECT ON TABLE "sales"."t00", "sales"."t01", "sales"."t02", '
                               '"sales"."t03" TO ROLE "AWSIDC:group-0000", ROLE "AWSIDC:group-0003", ')
    assert 'ROLE "AWSIDC:group-0001"' not in both.sql
    # Attachments: one statement per table (its roles), inside that table's restriction group.
    attaches = [s for s in merged.statements if s.sql.startswith("ATTACH RLS POLICY")]
    assert len(attaches) == 4 and all(s.group for s in attaches)
    assert len({s.group for s in attaches}) == 4


def test_every_statement_stays_under_the_bound_and_the_boxes_still_cover_everything() -> None:
    desired = roles_state(400, 20, prefix="AWSIDC:" + "a-rather-long-group-name-" * 4)
    merged = plan(desired, AccessState(), {}, coalesce=True)
    assert max(len(s.sql.encode("utf-8")) for s in merged.statements) <= COALESCED_STATEMENT_BYTES
    assert sum(len(s.adds) for s in merged.statements) == len(list(desired))
    small = coalesce(plan(desired, AccessState(), {}).statements, limit=2_000)
    assert max(len(s.sql.encode("utf-8")) for s in small) <= 2_000
    assert sum(len(s.adds) for s in small) == len(list(desired))
    assert len(small) > len(merged.statements)


@pytest.mark.parametrize(("item", "add", "remove"), [
    (TablePrivilege("s", "t", "SELECT", "r"), 'GRANT SELECT ON TABLE "s"."t" TO ROLE "r"',
     'REVOKE SELECT ON TABLE "s"."t" FROM ROLE "r"'),
    (SchemaPrivilege("s", "USAGE", "PUBLIC"), 'GRANT USAGE ON SCHEMA "s" TO PUBLIC',
     'REVOKE USAGE ON SCHEMA "s" FROM PUBLIC'),
    (RoleGrant("a", "b"), 'GRANT ROLE "a" TO ROLE "b"', 'REVOKE ROLE "a" FROM ROLE "b"'),
    (RlsAttachment("p", "s", "t", "r"), 'ATTACH RLS POLICY "p" ON "s"."t" TO ROLE "r"',
     'DETACH RLS POLICY "p" ON "s"."t" FROM ROLE "r"'),
    (DefaultPrivilege("loader", "s", "TABLES", "SELECT", "r"),
     'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "s" GRANT SELECT ON TABLES TO ROLE "r"',
     'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "s" REVOKE SELECT ON TABLES FROM ROLE "r"'),
    (DefaultPrivilege("dbt", "", "PROCEDURES", "EXECUTE", "PUBLIC"),
     'ALTER DEFAULT PRIVILEGES FOR USER "dbt" GRANT EXECUTE ON PROCEDURES TO PUBLIC',
     'ALTER DEFAULT PRIVILEGES FOR USER "dbt" REVOKE EXECUTE ON PROCEDURES FROM PUBLIC'),
])
def test_one_object_is_the_list_form_with_one_of_each(item: AccessObject, add: str, remove: str) -> None:
    assert (create_sql(item), remove_sql(item)) == (add, remove)
    fixed, privilege, target, grantee = list_parts(item)
    assert coalesced_sql(item, "add", (privilege,), (target,), (grantee,), fixed) == add


def test_a_role_list_names_every_grantee_as_a_role() -> None:
    """`TO ROLE a, b` would grant to user b: every grantee carries its ROLE keyword (r_GRANT)."""
    sql = coalesced_sql(TablePrivilege("s", "t", "SELECT", "a"), "add", ("SELECT",), (("s", "t"),), ("a", "b"))
    assert sql == 'GRANT SELECT ON TABLE "s"."t" TO ROLE "a", ROLE "b"'
    with pytest.raises(ValueError, match="PUBLIC"):
        coalesced_sql(RoleGrant("a", "b"), "add", ("",), (("a",),), ("b", "PUBLIC"))
    with pytest.raises(ValueError, match="unknown privilege"):
        coalesced_sql(TablePrivilege("s", "t", "SELECT", "a"), "add", ("SELECT", "SELECT; DROP"), (("s", "t"),), ("a",))


# -------------------------------------------------------------------------------------------- GRANT ROLE


def test_grant_role_lists_only_the_grantees_that_are_not_members_yet() -> None:
    base = [Role("analyst"), Role("g1"), Role("g2"), Role("g3"), RoleGrant("analyst", "g1")]
    fake = FakeRedshift()
    fake.apply(plan(AccessState.of(base), AccessState(), {}), "m")
    desired = AccessState.of([*base, RoleGrant("analyst", "g2"), RoleGrant("analyst", "g3")])
    planned = plan(desired, fake.state(), fake.ledger("m"), coalesce=True)
    assert [s.sql for s in planned.statements] == ['GRANT ROLE "analyst" TO ROLE "g2", ROLE "g3"']
    fake.apply(planned, "m")
    assert not differences(fake.state(), desired)
    # Why it must: a list naming a member already fails whole on Redshift, and changes nothing.
    before = fake.state()
    fake.execute_batch(['CREATE ROLE "g4"'])
    with pytest.raises(RedshiftError, match="already a member"):
        fake.execute_batch(['GRANT ROLE "analyst" TO ROLE "g4", ROLE "g1"'])
    assert ("analyst", "g4") not in {k for k in fake.state().objects.get(RoleGrant.KIND, {})}
    assert before.objects[RoleGrant.KIND].keys() <= fake.state().objects[RoleGrant.KIND].keys()


# --------------------------------------------------------------------------------------------- the ledger


def test_each_batch_commits_exactly_the_ledger_rows_of_its_own_statements() -> None:
    desired = roles_state(300, 10)
    planned = plan(desired, AccessState(), {}, coalesce=True)
    fake = FakeRedshift()
    tables = LedgerTables()
    fake.execute_batch(tables.bootstrap_sql())
    expected: set[tuple[str, tuple[str, ...]]] = set()
    cut = steps(planned, "m", tables)
    assert len(cut) < 20  # 3,000+ objects; one statement each would need over 100 batches
    for step in cut:
        fake.execute_batch(list(step.sqls))
        expected |= {(e.kind, e.key) for s in step.statements for e in s.ledger_add}
        assert set(fake.ledger("m")) == expected  # after every batch: its statements' rows, no more, no less
    assert not differences(fake.state(), desired)
    assert set(fake.ledger("m")) == {(item.KIND, item.key()) for item in desired}


def test_ledger_rows_as_boxes_read_back_as_rows_and_are_a_fraction_of_the_size() -> None:
    entries = tuple(LedgerEntry("table_privilege", ("sales", f"t{t}", "SELECT", f"AWSIDC:g-{r}"))
                    for t in range(20) for r in range(300))
    parts = ledger_parts(entries)
    assert len(parts) == 1 and parts[0].rows == 6000
    tables = LedgerTables()
    boxes, rows = tables.insert_parts_sql("m", parts), tables.insert_sql("m", entries)
    assert len(boxes) * 20 < len(rows)
    fake = FakeRedshift()
    fake.execute_batch([*tables.bootstrap_sql(), boxes])
    assert set(fake.ledger("m")) == {(e.kind, e.key) for e in entries}
    half = entries[::2]
    fake.execute_batch([tables.delete_parts_sql("m", ledger_parts(half))])
    assert set(fake.ledger("m")) == {(e.kind, e.key) for e in entries[1::2]}


def test_keys_that_need_escaping_survive_the_boxes() -> None:
    entries = tuple(LedgerEntry("role_grant", (f'r"{i}\\', f"g'{j}\u2028é")) for i in range(3) for j in range(3))
    tables = LedgerTables()
    fake = FakeRedshift()
    fake.execute_batch([*tables.bootstrap_sql(), tables.insert_parts_sql("m", ledger_parts(entries))])
    assert set(fake.ledger("m")) == {(e.kind, e.key) for e in entries}


# ----------------------------------------------------------------------------- groups and the transition rule


def test_no_statement_spans_two_restriction_groups_and_the_transition_rule_holds() -> None:
    before = roles_state(60, 3)
    after = AccessState.of([*(o for o in before if not (isinstance(o, RlsAttachment) and o.grantee.endswith("7"))),
                            RlsAttachment("p", "sales", "t00", "AWSIDC:group-0007")])
    fake = FakeRedshift()
    fake.apply(plan(before, AccessState(), {}), "m")
    one_each = plan(after, fake.state(), fake.ledger("m"))
    merged = plan(after, fake.state(), fake.ledger("m"), coalesce=True)
    group_of = {(a, o): s.group for s in one_each.statements for a, o in covered(s)}
    for statement in merged.statements:
        assert {group_of[p] for p in covered(statement)} == {statement.group}
    script = "CREATE TABLE sales.t00 (region VARCHAR(8));\nINSERT INTO sales.t00 VALUES ('EU'), ('US');"
    inputs = PreviewInputs("t", "AWSIDC", False, {"sales.t00": ("region",)}, (("Ann", ("group-0007",)),),
                           ({"Name": "rows.sql", "Sql": script, "Checksum": "0"},))
    assert check_plan(inputs, fake.state(), merged, "m", "redshift_idc").ok


def test_groups_are_sized_by_what_they_send() -> None:
    """60 attachments on one table are 61 statements one by one, more than a batch holds (locked down); coalesced,
    two: one transaction."""
    desired = roles_state(60, 1)
    assert all(not s.group for s in plan(desired, AccessState(), {}).statements if s.phase == 30)
    merged = plan(desired, AccessState(), {}, coalesce=True)
    assert {s.group for s in merged.statements if s.phase == 30} == {"restrictions-0"}


def test_a_group_whose_statements_fill_a_batchs_bytes_is_locked_down_not_refused() -> None:
    """3,000 attachments to one table are 6 statements of up to 16 KB: few enough, but more bytes than a batch takes,
    so the group applies under lockdown across batches instead of failing the batching."""
    desired = roles_state(3000, 1)
    merged = plan(desired, AccessState(), {}, coalesce=True)
    attaches = [s for s in merged.statements if s.sql.startswith("ATTACH RLS POLICY")]
    assert 1 < len(attaches) < 10 and not any(s.group for s in attaches)
    fake = FakeRedshift()
    fake.apply(merged, "m")  # batches cut without error
    assert not differences(fake.state(), desired)
    assert all(len(s.group) == 0 or sum(len(x.sql) for x in merged.statements if x.group == s.group) < 90_000
               for s in merged.statements)


# ------------------------------------------------------------------------------ failures, display, off switch


def test_a_failed_coalesced_statement_names_the_objects_it_covered() -> None:
    fake = FakeRedshift()
    clock = SimClock()
    api = FakeDataApi(fake, clock, model="m")
    properties = {**resource_properties("m", workgroup="sim-wg", namespace="sim-ns"), "ModelHash": "h1"}
    fake.fail_when = lambda sql: sql.startswith("GRANT SELECT ON TABLE")
    run = ProviderDriver(api, clock).run(cfn_event("Create", properties, request_id="r1"),
                                         model_document(roles_state(30, 2), []).encode("utf-8"))
    assert not run.complete
    error = str(run.error)
    assert "one statement for 40 objects: table_privilege sales.t00.INSERT.AWSIDC:group-0000, " in error
    assert "table_privilege sales.t00.SELECT.AWSIDC:group-0027, and 20 more" in error
    assert "coalesce_statements: false" in error
    assert len(error) < 2_500  # the statement itself is cut short: the objects say what it covered


def test_covered_objects_is_silent_for_a_statement_of_one_object() -> None:
    statement = Statement(54, ("k",), "GRANT ...", adds=(TablePrivilege("s", "t", "SELECT", "r"),))
    assert covered_objects(statement) == ""


def test_the_plan_shows_each_coalesced_statement_once_wrapped_with_its_size() -> None:
    planned = plan(roles_state(40, 3), AccessState(), {}, coalesce=True)
    text = render_for_review(planned, [])
    grant = next(s for s in planned.statements if s.sql.startswith("GRANT SELECT"))
    assert f"-- one statement for {len(grant.adds)} objects\n{wrapped(grant.sql)};" in text
    assert text.count("GRANT SELECT ON TABLE") == 1
    assert all(len(line) <= 120 for line in wrapped(grant.sql).splitlines())
    assert " ".join(line.strip() for line in wrapped(grant.sql).splitlines()) == grant.sql


def test_coalescing_is_on_by_default_and_the_model_turns_it_off() -> None:
    model = AccessModel.model_validate({"name": "m"})
    assert model.coalesce_statements is True
    assert AccessModel.model_validate({"name": "m", "coalesce_statements": False}).coalesce_statements is False
    request = _request({"CoalesceStatements": "false"})
    assert request.coalesce is False
    assert _request({}).coalesce is True
    desired = roles_state(10, 2)
    off = plan(desired, AccessState(), {}, coalesce=request.coalesce)
    assert all(len(s.adds) + len(s.removes) == 1 for s in off.statements)


def _request(extra: dict[str, Any]) -> Request:
    properties = {**resource_properties("m", workgroup="wg", namespace="ns"), "ModelHash": "h1", **extra}
    event = CustomResourceEvent.from_dict(cfn_event("Create", properties, request_id="r1"))
    return build_request(event, json.loads(model_document(AccessState(), [])))


def test_statements_that_must_stay_one_per_object_are_left_alone() -> None:
    desired = roles_state(50, 2)
    merged = plan(desired, AccessState(), {}, coalesce=True)
    kinds = Counter(s.sql.split(" ")[0] + " " + s.sql.split(" ")[1] for s in merged.statements
                    if len(s.adds) + len(s.removes) == 1)
    assert kinds["CREATE ROLE"] == 50 and kinds["ALTER TABLE"] == 2
    assert dataclasses.replace(merged).statements == merged.statements


# ------------------------------------------------------------------------------------------ default privileges

CREATORS = ("loader", "dbt")
DEFAULT_GRANTEES = ("a", "b", "c", PUBLIC_GRANTEE)
# Every default privilege the tests below draw from: two creators, database-wide and in a schema, tables and
# functions, to roles and PUBLIC.
DEFAULTS_UNIVERSE = tuple(DefaultPrivilege(creator, schema, objects, privilege, grantee)
                          for creator in CREATORS for schema in ("", "sales")
                          for objects, privileges in (("TABLES", ("SELECT", "INSERT", "DELETE")),
                                                      ("FUNCTIONS", ("EXECUTE",)))
                          for privilege in privileges for grantee in DEFAULT_GRANTEES)


def with_roles(defaults: list[DefaultPrivilege], roles: tuple[str, ...] = ("a", "b", "c")) -> AccessState:
    return AccessState.of([*(Role(r) for r in roles), *defaults])


def creators_warehouse() -> FakeRedshift:
    fake = FakeRedshift()
    for creator in CREATORS:
        fake.sign_in(creator)
    return fake


def default_statements(planned: Plan) -> list[Statement]:
    return [s for s in planned.statements if s.sql.startswith("ALTER DEFAULT PRIVILEGES")]


def assert_exact(statement: Statement) -> None:
    """The statement stands for exactly the one-object statements of what it covers (no cell more, none less),
    all of one creator, schema and object type."""
    parts = covered(statement)
    expanded = expand_list_statement(statement.sql) or [statement.sql]
    assert sorted(expanded) == sorted(one_sql(*p) for p in parts)
    assert len({(o.creator, o.schema, o.objects) for _, o in parts if isinstance(o, DefaultPrivilege)}) == 1
    assert len(parts) == len(statement.adds) + len(statement.removes) and len({a for a, _ in parts}) == 1


def test_default_privileges_are_boxes_of_privileges_and_grantees_per_creator_schema_and_object_type() -> None:
    sales = [DefaultPrivilege("loader", "sales", "TABLES", p, g) for p, gs in (
        ("SELECT", ("a", "b", "c", PUBLIC_GRANTEE)), ("INSERT", ("a", "b")), ("DELETE", ("a",))) for g in gs]
    others = [DefaultPrivilege("loader", "", "TABLES", "SELECT", "a"),  # database-wide: another statement
              DefaultPrivilege("loader", "sales", "FUNCTIONS", "EXECUTE", "a"),  # another object type
              DefaultPrivilege("loader", "sales", "FUNCTIONS", "EXECUTE", "b"),
              DefaultPrivilege("dbt", "sales", "TABLES", "SELECT", "a")]  # another creator
    desired = with_roles([*sales, *others])
    merged = plan(desired, AccessState(), {}, coalesce=True)
    head = 'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT'
    assert [s.sql for s in default_statements(merged)] == [
        'ALTER DEFAULT PRIVILEGES FOR USER "dbt" IN SCHEMA "sales" GRANT SELECT ON TABLES TO ROLE "a"',
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "a"',
        f'{head} EXECUTE ON FUNCTIONS TO ROLE "a", ROLE "b"',
        # a holds DELETE, INSERT, SELECT; b INSERT, SELECT; c and PUBLIC SELECT: three exact boxes, never DELETE
        # to b nor INSERT to c
        f'{head} DELETE, INSERT, SELECT ON TABLES TO ROLE "a"',
        f'{head} INSERT, SELECT ON TABLES TO ROLE "b"',
        f'{head} SELECT ON TABLES TO PUBLIC, ROLE "c"',
    ]
    for statement in default_statements(merged):
        assert_exact(statement)
        assert statement.phase == GRANT_PHASE[DefaultPrivilege.KIND]
    one_each = default_statements(plan(desired, AccessState(), {}))
    assert len(one_each) == 11 and all(s.covers == 1 for s in one_each)
    assert Counter(covered_all(default_statements(merged))) == Counter(covered_all(one_each))


def covered_all(statements: list[Statement]) -> list[tuple[str, AccessObject]]:
    return [part for s in statements for part in covered(s)]


def test_only_the_missing_cells_are_granted_and_only_the_dropped_ones_revoked() -> None:
    fake = creators_warehouse()
    before = [DefaultPrivilege("loader", "sales", "TABLES", p, g) for p in ("SELECT", "INSERT") for g in ("a", "b")]
    fake.apply(plan(with_roles(before), AccessState(), {}, coalesce=True), "m")
    after = [*(DefaultPrivilege("loader", "sales", "TABLES", "SELECT", g) for g in ("a", "b", "c", PUBLIC_GRANTEE)),
             DefaultPrivilege("loader", "sales", "TABLES", "DELETE", "a")]
    desired = with_roles(after)
    merged = plan(desired, fake.state(), fake.ledger("m"), coalesce=True)
    head = 'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales"'
    assert [(s.phase, s.sql) for s in merged.statements] == [
        (REVOKE_PHASE[DefaultPrivilege.KIND], f'{head} REVOKE INSERT ON TABLES FROM ROLE "a", ROLE "b"'),
        (GRANT_PHASE[DefaultPrivilege.KIND], f'{head} GRANT DELETE ON TABLES TO ROLE "a"'),
        (GRANT_PHASE[DefaultPrivilege.KIND], f'{head} GRANT SELECT ON TABLES TO PUBLIC, ROLE "c"'),
    ]
    for statement in merged.statements:
        assert_exact(statement)
    fake.apply(merged, "m")
    assert fake.warnings == []  # no GRANT of what is held, no REVOKE of what is not
    assert not differences(fake.state(), desired)
    assert set(fake.ledger("m")) == {(item.KIND, item.key()) for item in desired}
    again = plan(desired, fake.state(), fake.ledger("m"), coalesce=True)
    assert again.statements == [] and not again


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(current=st.sets(st.sampled_from(DEFAULTS_UNIVERSE)), desired=st.sets(st.sampled_from(DEFAULTS_UNIVERSE)),
       by_hand=st.sets(st.sampled_from(DEFAULTS_UNIVERSE), max_size=4))
def test_coalesced_default_privileges_converge_as_one_per_privilege_and_grantee_does(
        current: set[DefaultPrivilege], desired: set[DefaultPrivilege], by_hand: set[DefaultPrivilege]) -> None:
    """From any deployed set (and a few granted by hand, which no plan revokes) to any other: the coalesced plan
    covers the same objects as one statement per privilege and grantee, each statement exactly its cells, and both
    end in the same catalog and ledger, after which the next plan is empty."""
    order = sorted(DEFAULTS_UNIVERSE, key=lambda d: d.key())
    start, end = (with_roles(sorted(s, key=order.index)) for s in (current, desired))
    results = []
    for coalesced in (False, True):
        fake = creators_warehouse()
        fake.apply(plan(start, AccessState(), {}, coalesce=coalesced), "m")
        for item in sorted(by_hand - current, key=order.index):
            fake.execute(create_sql(item))
        planned = plan(end, fake.state(), fake.ledger("m"), coalesce=coalesced)
        for statement in planned.statements:
            assert_exact(statement)
            assert coalesced or statement.covers == 1
            assert len(statement.sql.encode("utf-8")) <= COALESCED_STATEMENT_BYTES
        fake.apply(planned, "m")
        assert fake.warnings == []
        held = set(fake.state().of_kind(DefaultPrivilege.KIND))
        assert set(end.of_kind(DefaultPrivilege.KIND)) <= held
        assert {item.key() for item in by_hand - current} <= held  # never granted by a model: never revoked
        assert plan(end, fake.state(), fake.ledger("m"), coalesce=coalesced).statements == []
        results.append((Counter(covered_all(planned.statements)), fake.state(), fake.ledger("m")))
    (effects_one, state_one, ledger_one), (effects_merged, state_merged, ledger_merged) = results
    assert effects_merged == effects_one
    assert not differences(state_merged, state_one) and ledger_merged == ledger_one


def test_many_grantees_are_split_under_the_bound_and_every_ledger_row_commits_with_its_statement() -> None:
    roles = tuple(f"AWSIDC:{'a-rather-long-group-name-' * 4}{r:04d}" for r in range(500))
    desired = with_roles([DefaultPrivilege("loader", "sales", "TABLES", p, r) for r in roles
                          for p in ("SELECT", "INSERT")], roles)
    merged = default_statements(plan(desired, AccessState(), {}, coalesce=True))
    assert 1 < len(merged) < 10
    for statement in merged:
        assert len(statement.sql.encode("utf-8")) <= COALESCED_STATEMENT_BYTES
        assert_exact(statement)
        assert {(e.kind, e.key) for e in statement.ledger_add} == {(o.KIND, o.key()) for o in statement.adds}
    assert sum(len(s.adds) for s in merged) == 1000
    small = [s for s in coalesce(plan(desired, AccessState(), {}).statements, limit=2_000)
             if s.sql.startswith("ALTER DEFAULT")]
    assert max(len(s.sql.encode("utf-8")) for s in small) <= 2_000 and len(small) > len(merged)
    assert sum(len(s.adds) for s in small) == 1000

    fake = creators_warehouse()
    tables = LedgerTables()
    fake.execute_batch(tables.bootstrap_sql())
    planned = plan(desired, AccessState(), {}, coalesce=True)
    expected: set[tuple[str, tuple[str, ...]]] = set()
    for step in steps(planned, "m", tables):
        fake.execute_batch(list(step.sqls))
        expected |= {(e.kind, e.key) for s in step.statements for e in s.ledger_add}
        assert set(fake.ledger("m")) == expected  # after every batch: its statements' rows, no more, no less
    assert not differences(fake.state(), desired)

    # Revoked the same way: each REVOKE's rows leave the ledger with it.
    left = with_roles([], roles)
    revoking = plan(left, fake.state(), fake.ledger("m"), coalesce=True)
    revokes = default_statements(revoking)
    assert 1 < len(revokes) < 10 and all(" REVOKE INSERT, SELECT ON TABLES FROM " in s.sql for s in revokes)
    for statement in revokes:
        assert {(e.kind, e.key) for e in statement.ledger_remove} == {(o.KIND, o.key()) for o in statement.removes}
    fake.apply(revoking, "m")
    assert fake.state().of_kind(DefaultPrivilege.KIND) == {}
    assert not [kind for kind, _ in fake.ledger("m") if kind == DefaultPrivilege.KIND]


def test_the_off_switch_gives_one_default_privilege_statement_per_privilege_and_grantee() -> None:
    desired = with_roles([DefaultPrivilege("loader", "sales", "TABLES", p, g) for p in ("SELECT", "INSERT")
                          for g in ("a", "b", PUBLIC_GRANTEE)])
    request = _request({"CoalesceStatements": "false"})
    off = default_statements(plan(desired, AccessState(), {}, coalesce=request.coalesce))
    assert [s.sql for s in off] == [
        f'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT {p} ON TABLES TO {g}'
        for p in ("INSERT", "SELECT") for g in ('ROLE "a"', 'ROLE "b"', 'PUBLIC')]
    on = default_statements(plan(desired, AccessState(), {}, coalesce=_request({}).coalesce))
    assert [s.sql for s in on] == ['ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT INSERT, SELECT '
                                   'ON TABLES TO PUBLIC, ROLE "a", ROLE "b"']


def test_the_fake_runs_a_default_privilege_list_as_each_cell_and_refuses_it_whole() -> None:
    fake = creators_warehouse()
    fake.execute_batch(['CREATE ROLE "a"', 'CREATE ROLE "b"'])
    head = 'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales"'
    fake.execute(f'{head} GRANT SELECT, INSERT ON TABLES TO ROLE "a", PUBLIC')
    held = {(d.privilege, d.grantee) for d in fake.state().of_kind(DefaultPrivilege.KIND).values()
            if isinstance(d, DefaultPrivilege)}
    assert held == {("SELECT", "a"), ("INSERT", "a"), ("SELECT", PUBLIC_GRANTEE), ("INSERT", PUBLIC_GRANTEE)}
    before = fake.state()
    for refused, error in ((f'{head} GRANT SELECT ON TABLES TO ROLE "b", ROLE "nobody"', "does not exist"),
                           (f'{head} GRANT SELECT, EXECUTE ON TABLES TO ROLE "b"', "syntax error"),
                           (f'{head} REVOKE SELECT ON TABLES FROM ROLE "a", ROLE "nobody"', "does not exist")):  # noqa: S608
        with pytest.raises(RedshiftError, match=error):
            fake.execute(refused)
        assert not differences(fake.state(), before)  # all or nothing: b got no SELECT, a kept its SELECT
    fake.execute(f'{head} REVOKE INSERT ON TABLES FROM ROLE "a", PUBLIC')
    held = {(d.privilege, d.grantee) for d in fake.state().of_kind(DefaultPrivilege.KIND).values()
            if isinstance(d, DefaultPrivilege)}
    assert held == {("SELECT", "a"), ("SELECT", PUBLIC_GRANTEE)}


def test_a_default_privilege_statement_names_one_creator_schema_and_object_type() -> None:
    item = DefaultPrivilege("loader", "sales", "TABLES", "SELECT", "a")
    fixed = ("loader", "sales", "TABLES")
    assert coalesced_sql(item, "add", ("INSERT", "SELECT"), ((),), ("a", PUBLIC_GRANTEE), fixed) == (
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT INSERT, SELECT ON TABLES TO ROLE "a", '
        'PUBLIC')
    for privileges, targets, shared in ((("SELECT",), ((), ()), fixed),  # two targets: a product of creators
                                        (("SELECT",), ((),), ("loader", "sales")),
                                        (("EXECUTE",), ((),), fixed),  # not a privilege on tables
                                        (("SELECT",), ((),), ("loader", "sales", "VIEWS"))):  # not an object type
        with pytest.raises(ValueError, match="default_privilege"):
            coalesced_sql(item, "add", privileges, targets, ("a",), shared)
