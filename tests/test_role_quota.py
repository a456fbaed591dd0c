"""The workgroup's role quota: `validate`, `plan` and synth refuse a model declaring more roles than
`warehouse.role_quota`, the model document carries the quota, and the reconciler refuses, before any change, a plan
whose roles would exceed it, counting every role the warehouse holds (not Redshift's own `sys:`/`ds:` roles) and the
new roles a deploy creates before it drops the leaving ones."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from redshift_idc.access.checked import RoleQuotaError, check_role_quota, checked_model
from redshift_idc.access.scripts import script_entry
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.runtime.access_state import AccessState, Role, SchemaPrivilege
from redshift_idc.runtime.custom_resource import CustomResourceEvent
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.reconcile_handler import build_request, model_document
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.role_quota import quota_problem, role_peak
from tests.fake_data_api import FakeDataApi, ProviderDriver, RequestRun, SimClock, cfn_event, resource_properties
from tests.fake_redshift import SYSTEM_ROLES, FakeRedshift, differences

MODEL = "quota"
PROPERTIES = resource_properties(MODEL, workgroup="quota-wg", namespace="quota-ns")
PHYSICAL_ID = f"access-model:quota-wg/dev/{MODEL}"
APPLY_STEPS = (":apply", ":exec", ":intent", ":script")


def roles(*names: str) -> AccessState:
    """Each role with USAGE on a schema, so that a replaced role has something to lose before its DROP."""
    return AccessState.of([item for name in names for item in (Role(name), SchemaPrivilege("sales", "USAGE", name))])


def numbered(count: int, prefix: str = "AWSIDC:group-") -> list[str]:
    return [f"{prefix}{n:03d}" for n in range(count)]


# ---------------------------------------------------------------------------------------- the walk


def deployed(desired: AccessState) -> FakeRedshift:
    fake = FakeRedshift()
    fake.apply(plan(desired, fake.state(), {}), MODEL)
    return fake


def replan(fake: FakeRedshift, desired: AccessState) -> list[Statement]:
    return plan(desired, fake.state(), fake.ledger(MODEL)).statements


def test_the_walk_counts_every_role_the_read_shows_and_each_create_and_drop_in_plan_order() -> None:
    fake = deployed(roles(*numbered(3)))
    held = [*SYSTEM_ROLES, "ds:share", "made-by-hand", *numbered(3)]
    found = role_peak(held, replan(fake, roles(*numbered(3)[1:], "AWSIDC:new-1", "AWSIDC:new-2")))
    assert (found.now, found.system, found.creates, found.drops) == (4, 6, 2, 1)  # sys: and ds: roles not counted
    assert found.peak == 6  # both new roles exist before the leaving one is dropped


def test_a_plan_that_creates_no_role_is_never_refused_even_over_the_quota() -> None:
    fake = deployed(roles(*numbered(10)))
    held = [*SYSTEM_ROLES, *numbered(10)]
    found = role_peak(held, replan(fake, roles(*numbered(8))))
    assert (found.creates, found.drops, found.peak) == (0, 2, 10)
    assert quota_problem(found, 9) == ""  # nothing it runs can cross the quota
    grows = role_peak(held, replan(fake, roles(*numbered(11))))
    assert "reaches 11 roles" in quota_problem(grows, 10)
    assert quota_problem(grows, 11) == ""


def test_the_walk_reads_what_statements_do_not_their_sql() -> None:
    """One statement may create or drop several roles (the coalescing planner's may); a create after drops that made
    room is not refused, whatever the warehouse held before."""
    def statement(removes: tuple[str, ...] = (), adds: tuple[str, ...] = ()) -> Statement:
        return Statement(phase=0, sort_key=("role",), sql="-- not read", removes=tuple(Role(n) for n in removes),
                         adds=tuple(Role(n) for n in adds))

    held = [*SYSTEM_ROLES, *numbered(12)]  # 12, over a quota of 10 already
    room_first = role_peak(held, [statement(removes=("a", "b", "c")), statement(adds=("d",))])
    assert (room_first.peak, room_first.at_creates) == (12, 10) and quota_problem(room_first, 10) == ""
    together = role_peak(held, [statement(adds=("d", "e")), statement(removes=("a", "b", "c"))])
    assert (together.creates, together.drops, together.peak) == (2, 3, 14)
    assert "reaches 14 roles" in quota_problem(together, 13)


# ------------------------------------------------------------------------------------------ validation


def test_validation_refuses_a_model_over_the_quota_naming_the_file_the_count_and_the_fix() -> None:
    with pytest.raises(RoleQuotaError) as refused:
        check_role_quota(roles(*numbered(12)), 11, where="access/big.yaml",
                         setting="warehouse.role_quota in config/dev.yaml")
    message = str(refused.value)
    assert message.startswith("access/big.yaml: the model declares 12 roles, over the workgroup's role quota of 11 "
                              "(warehouse.role_quota in config/dev.yaml; Redshift's default is 1,000 per workgroup)")
    assert "Ask AWS to raise the quota" in message and "set warehouse.role_quota in config/dev.yaml" in message
    assert "merge groups that share grants into fewer roles" in message
    assert "not Redshift's own sys: and ds: roles" in message  # where it matters: the deploy counts the others
    assert (refused.value.roles, refused.value.quota) == (12, 11)


def test_validation_accepts_a_model_at_the_quota() -> None:
    check_role_quota(roles(*numbered(12)), 12, where="access/big.yaml", setting="--role-quota")


def with_quota(config: EnvironmentConfig, quota: int) -> EnvironmentConfig:
    return config.model_copy(update={"warehouse": config.warehouse.model_copy(update={"role_quota": quota})})


def test_validate_plan_and_synth_share_the_check_through_the_checked_model() -> None:
    demo = load_environment("demo")
    declared = len(checked_model(demo, transition="skip").desired.of_kind(Role.KIND))
    assert declared > 0
    with pytest.raises(RoleQuotaError, match=rf"access/demo.yaml: the model declares {declared} roles, over the "
                                             rf"workgroup's role quota of {declared - 1} \(warehouse.role_quota in "
                                             r"config/demo.yaml"):
        checked_model(with_quota(demo, declared - 1), transition="skip")
    at_quota = checked_model(with_quota(demo, declared), transition="skip")
    assert len(at_quota.desired.of_kind(Role.KIND)) == declared


# -------------------------------------------------------------------------------------- the document


def test_the_document_carries_the_quota_and_the_request_reads_it() -> None:
    desired = roles("AWSIDC:a")
    document = json.loads(model_document(desired, [], role_quota=1500))
    assert document["role_quota"] == 1500
    event = CustomResourceEvent.from_dict(cfn_event("Create", PROPERTIES, request_id="r"))
    assert build_request(event, document).role_quota == 1500
    older = json.loads(model_document(desired, []))
    assert "role_quota" not in older  # documents of older templates: not checked
    assert build_request(event, older).role_quota is None


# --------------------------------------------------------------------------------------- the deploy


class Warehouse:
    """One fake workgroup (with Redshift's five system roles), its Data API and the Provider framework."""

    def __init__(self) -> None:
        self.fake = FakeRedshift()
        self.clock = SimClock()
        self.api = FakeDataApi(self.fake, self.clock, model=MODEL)
        self.driver = ProviderDriver(self.api, self.clock)
        self.requests = 0

    def deploy(self, desired: AccessState, quota: int | None, request_type: str = "Update",
               scripts: Sequence[ScriptEntry] = ()) -> RequestRun:
        self.requests += 1
        event = cfn_event(request_type, {**PROPERTIES, "ModelHash": f"hash-{self.requests}"},
                          request_id=f"request-{self.requests:03d}",
                          physical_id=None if request_type == "Create" else PHYSICAL_ID)
        return self.driver.run(event, model_document(desired, scripts, role_quota=quota).encode("utf-8"))

    def submitted_steps(self) -> list[str]:
        return [s.name for s in self.api.statements.values() if s.name.endswith(APPLY_STEPS)]


def test_the_deploy_refuses_before_any_change_when_the_roles_it_creates_exceed_the_quota() -> None:
    warehouse = Warehouse()
    warehouse.fake.execute('CREATE ROLE "made-by-hand"')  # not the model's: it counts all the same
    before = warehouse.fake.state(include_system=True)
    run = warehouse.deploy(roles(*numbered(8)), quota=8, request_type="Create")
    assert not run.complete
    assert ("this deploy would exceed the workgroup's role quota: the warehouse holds 1 role now (not counting "
            "Redshift's own 5 sys:/ds: roles)") in run.error
    assert "the plan reaches 9 roles; the quota is 8 (warehouse.role_quota). Nothing was changed." in run.error
    assert "Ask AWS to raise the quota" in run.error and "deploy the removals first" in run.error
    assert differences(warehouse.fake.state(include_system=True), before) == []
    assert warehouse.submitted_steps() == []  # no batch, no script, no statement sent alone


def test_a_pending_script_does_not_run_when_the_plan_after_it_would_exceed_the_quota() -> None:
    """Scripts run before the plan's batches: the quota is checked first, like another model's objects are."""
    warehouse = Warehouse()
    script = script_entry("001_orders.sql", 'CREATE SCHEMA IF NOT EXISTS "orders";\n')
    run = warehouse.deploy(roles(*numbered(8)), quota=7, request_type="Create", scripts=[script])
    assert not run.complete and "the plan reaches 8 roles; the quota is 7" in run.error
    assert not any("orders" in sql for sql in warehouse.fake.history)
    assert warehouse.submitted_steps() == []


def test_the_deploy_passes_when_the_peak_fits_the_quota() -> None:
    warehouse = Warehouse()
    run = warehouse.deploy(roles(*numbered(8)), quota=8, request_type="Create")
    assert run.complete, run.error
    assert differences(warehouse.fake.state(), roles(*numbered(8))) == []


def test_a_replacement_at_the_quota_is_refused_with_the_headroom_it_needs() -> None:
    """At the quota, replacing 3 roles needs room for 3 more: the new ones are created before the old ones go."""
    warehouse = Warehouse()
    quota = 10
    assert warehouse.deploy(roles(*numbered(10)), quota, request_type="Create").complete
    before = warehouse.fake.state(include_system=True)
    steps_before = warehouse.submitted_steps()
    replaced = roles(*numbered(10)[3:], *numbered(3, "AWSIDC:team-"))
    run = warehouse.deploy(replaced, quota)
    assert not run.complete
    assert "the warehouse holds 10 roles now" in run.error and "the plan reaches 13 roles" in run.error
    assert ("it creates its 3 new roles before it drops the 3 leaving roles (so that no one loses access in "
            "between), so it needs room for both at once; the quota is 10") in run.error
    assert "deploy the removals first (the model without its new roles), then the additions" in run.error
    assert differences(warehouse.fake.state(include_system=True), before) == []
    assert warehouse.submitted_steps() == steps_before
    # The way out the message names: the removals first, then the additions.
    assert warehouse.deploy(roles(*numbered(10)[3:]), quota).complete
    assert warehouse.deploy(replaced, quota).complete
    assert differences(warehouse.fake.state(), replaced) == []


def test_a_document_without_a_quota_is_not_checked() -> None:
    warehouse = Warehouse()
    assert warehouse.deploy(roles(*numbered(8)), quota=None, request_type="Create").complete
