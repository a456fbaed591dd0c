"""The issue's fail-open windows, one scenario each, on the in-memory Redshift (`tests/fake_redshift.py`): the plan
is applied batch by batch exactly as `ledger.steps` cuts it, and after every committed batch the catalog is
inspected for a moment where a principal could see more than before and after the deploy.

Each scenario uses only what every version of the planner offers (`plan`, `steps`, the fake), so it also runs
against the code before this change, where each one fails. The general rule, evaluated on sample rows for any
model, is `tests/test_transition_properties.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    SchemaPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.planner import plan
from tests.fake_redshift import FakeRedshift, differences

MODEL = "fail-open"
SCHEMA, TABLE = "sales", "orders"
EMAIL = "VARCHAR(128)"
HIDE = "CAST('***' AS VARCHAR(128))"
FILLER = 60  # roles that make a plan span several batches


def filler(prefix: str) -> list[AccessObject]:
    """Roles with a schema grant each: nothing to do with the scenario but enough statements for several batches."""
    items: list[AccessObject] = []
    for n in range(FILLER):
        items += [Role(f"{prefix}-{n:02d}"), SchemaPrivilege(SCHEMA, "USAGE", f"{prefix}-{n:02d}")]
    return items


def reader(role: str) -> list[AccessObject]:
    return [Role(role), SchemaPrivilege(SCHEMA, "USAGE", role), TablePrivilege(SCHEMA, TABLE, "SELECT", role)]


def deploy(fake: FakeRedshift, desired: AccessState, check: Callable[[AccessState], None] | None = None, *,
           prune: bool = False) -> int:
    """Plan against the fake and apply step by step, calling `check` on the catalog after every committed step
    but the last. Returns the number of steps."""
    fake.execute_batch(LedgerTables().bootstrap_sql())
    planned = plan(desired, fake.state(), fake.ledger(MODEL), prune=prune)
    cut = steps(planned, MODEL)
    for number, step in enumerate(cut, start=1):
        if step.statement is None:
            fake.execute_batch(list(step.sqls))
        else:
            fake.execute(step.sqls[0])
        if check is not None and number < len(cut):
            check(fake.state())
    return len(cut)


def state_of(items: Iterable[AccessObject]) -> AccessState:
    return AccessState.of(items)


def masked_while_readable(column: str) -> Callable[[AccessState], None]:
    """Every role that may read the table has a masking policy on `column` (none is attached to PUBLIC here)."""
    def check(state: AccessState) -> None:
        readers = {key[3] for key in state.of_kind(TablePrivilege.KIND) if key[:3] == (SCHEMA, TABLE, "SELECT")}
        masked = {key[4] for key in state.of_kind(MaskingAttachment.KIND)
                  if key[1:3] == (SCHEMA, TABLE) and column in key[3].split(",")}
        assert readers <= masked, f"readable unmasked by {sorted(readers - masked)[:3]}"
    return check


# ------------------------------------------------------------------------------------------ swaps across batches


def test_renaming_a_masking_policy_never_leaves_the_column_unmasked_between_batches() -> None:
    old = MaskingPolicy("hide_email", (("email", EMAIL),), HIDE)
    new = MaskingPolicy("hide_email_v2", (("email", EMAIL),), HIDE)
    before = state_of([*reader("analyst"), old,
                       MaskingAttachment(old.name, SCHEMA, TABLE, ("email",), "analyst", (), 10)])
    after = state_of([*reader("analyst"), new, *filler("team"),
                      MaskingAttachment(new.name, SCHEMA, TABLE, ("email",), "analyst", (), 10)])
    fake = FakeRedshift()
    deploy(fake, before)
    assert deploy(fake, after, masked_while_readable("email")) >= 3
    assert differences(fake.state(), after) == []


def test_renaming_one_of_two_and_combined_rls_policies_keeps_both_filters_between_batches() -> None:
    region = RlsPolicy("eu_only", (("region", "VARCHAR(16)"),), "region = 'EU'")
    amount = RlsPolicy("small_orders", (("amount", "INTEGER"),), "amount < 100")
    renamed = RlsPolicy("small_orders_v2", (("amount", "INTEGER"),), "amount < 100")
    common = [*reader("analyst"), region, RlsTable(SCHEMA, TABLE, "AND"),
              RlsAttachment(region.name, SCHEMA, TABLE, "analyst")]
    before = state_of([*common, amount, RlsAttachment(amount.name, SCHEMA, TABLE, "analyst")])
    after = state_of([*common, renamed, RlsAttachment(renamed.name, SCHEMA, TABLE, "analyst"), *filler("team")])

    predicates = {p.name: p.using for p in (region, amount, renamed)}

    def both_filters(state: AccessState) -> None:
        attached = {key[0] for key in state.of_kind(RlsAttachment.KIND) if key[1:] == (SCHEMA, TABLE, "analyst")}
        shown = {predicates[name] for name in attached}
        assert shown >= {region.using, amount.using}, f"analyst's AND filters are down to {sorted(attached)}"

    fake = FakeRedshift()
    deploy(fake, before)
    assert deploy(fake, after, both_filters) >= 3
    assert differences(fake.state(), after) == []


def test_rebuilding_a_masking_policy_attached_to_60_roles_never_unmasks_a_reader() -> None:
    roles = [f"reader-{n:02d}" for n in range(60)]
    old = MaskingPolicy("hide_email", (("email", EMAIL),), HIDE)
    rebuilt = MaskingPolicy("hide_email", (("email", "VARCHAR(256)"),), "CAST('***' AS VARCHAR(256))")

    def model(policy: MaskingPolicy) -> AccessState:
        items: list[AccessObject] = [policy]
        for role in roles:
            items += [*reader(role), MaskingAttachment(policy.name, SCHEMA, TABLE, ("email",), role, (), 10)]
        return state_of(items)

    fake = FakeRedshift()
    deploy(fake, model(old))
    assert deploy(fake, model(rebuilt), masked_while_readable("email")) >= 3
    assert differences(fake.state(), model(rebuilt)) == []


# ------------------------------------------------------------------------------------------ prune


def test_prune_never_lifts_rls_that_public_still_reads_through() -> None:
    """A table the model does not declare, with RLS made by hand and SELECT granted to PUBLIC: prune used to
    turn its RLS off and drop the policy while PUBLIC kept SELECT, so everyone saw every row."""
    fake = FakeRedshift()
    for sql in ['GRANT SELECT ON TABLE "hr"."salaries" TO PUBLIC',
                'CREATE RLS POLICY "own_row" WITH ("owner" VARCHAR(64)) USING ("owner" = current_user)',
                'ATTACH RLS POLICY "own_row" ON "hr"."salaries" TO PUBLIC',
                'ALTER TABLE "hr"."salaries" ROW LEVEL SECURITY ON CONJUNCTION TYPE AND']:
        fake.execute(sql)
    model = state_of(reader("analyst"))
    deploy(fake, model, prune=True)
    state = fake.state()
    public = PUBLIC_GRANTEE.lower()  # keys fold names
    assert state.get(TablePrivilege.KIND, ("hr", "salaries", "SELECT", public)) is not None
    assert state.get(RlsTable.KIND, ("hr", "salaries")) is not None, "RLS was turned off under PUBLIC's SELECT"
    assert state.get(RlsAttachment.KIND, ("own_row", "hr", "salaries", public)) is not None
    assert state.get(RlsPolicy.KIND, ("own_row",)) is not None
