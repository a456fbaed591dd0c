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

from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.transition.check import check_plan
from redshift_idc.review.plan_text import render_for_review, wrapped
from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
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
