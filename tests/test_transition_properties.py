"""Property: no intermediate state of a deploy widens access.

Hypothesis (fixed seed) draws pairs of access models (A, B) over two declared tables with sample rows and one table
the models never declare: roles, role grants, schema, scoped, table and column grants, PUBLIC as a grantee, RLS
with AND and OR, masking with priorities, IGNORE RLS, and between A and B renames (a definition under a new name),
rebuilds (new WITH columns under the same name), altered predicates, priority changes, prune. Hand-made RLS on the
undeclared table, which PUBLIC may read, is in the warehouse throughout.

Each pair is applied to the in-memory Redshift (`tests/fake_redshift.py`) in batches cut small (so a deploy has
many boundaries): first A from an empty warehouse, then A to B, then A to B again interrupted at a drawn step and
planned anew from what the warehouse holds. After every committed batch the catalog, with the policies' text, is
judged by the transition check (`redshift_idc/access/transition/`): for every role, PUBLIC and every pair of roles on
one RLS table, every cell seen on the sample rows is one seen before or after, and the undeclared table is never
less restricted than before. Every deploy must also converge (planning again gives nothing).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.transition.check import check_states
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.ledger import RESERVED_STATEMENTS, LedgerTables, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.planning.restriction_groups import LEDGER_STATEMENTS_PER_BATCH
from tests.fake_redshift import FakeRedshift

MODEL = "transition"
MAX_STATEMENTS = 4 + RESERVED_STATEMENTS  # four statements per batch besides the reconciler's own: ledger included
GROUP_LIMIT = MAX_STATEMENTS - RESERVED_STATEMENTS - LEDGER_STATEMENTS_PER_BATCH
EXAMPLES = 400
MIN_BOUNDARIES = 1000

ROLES = ("r1", "r2", "r3", "r4")
ORDERS, ACCOUNTS, VAULT = ("sales", "orders"), ("public", "accounts"), ("sales", "vault")
COLUMNS = {ORDERS: ("region", "amount", "email"), ACCOUNTS: ("region", "email")}
SCRIPT = """\
CREATE TABLE sales.orders (region VARCHAR(8), amount INTEGER, email VARCHAR(64));
INSERT INTO sales.orders VALUES ('EU', 5, 'ann@eu.example'), ('EU', 500, 'bob@eu.example'),
    ('US', 50, 'cy@us.example'), ('US', 700, 'di@us.example'), ('APAC', 20, 'ed@jp.example'),
    ('APAC', 300, 'fa@jp.example');
CREATE TABLE public.accounts (region VARCHAR(8), email VARCHAR(64));
INSERT INTO public.accounts VALUES ('EU', 'gi@eu.example'), ('US', 'ho@us.example'), ('APAC', 'ia@jp.example');
"""
INPUTS = PreviewInputs(MODEL, "AWSIDC", False, {"sales.orders": COLUMNS[ORDERS], "public.accounts": COLUMNS[ACCOUNTS]},
                       (), ({"Name": "rows.sql", "Sql": SCRIPT, "Checksum": "0"},))
# The undeclared table, made by hand: PUBLIC may read it, each user only their own rows.
HAND_MADE = ['GRANT USAGE ON SCHEMA "sales" TO PUBLIC',
             'GRANT SELECT ON TABLE "sales"."vault" TO PUBLIC',
             'CREATE RLS POLICY "own_rows" WITH ("owner" VARCHAR(64)) USING ("owner" = current_user)',
             'ATTACH RLS POLICY "own_rows" ON "sales"."vault" TO PUBLIC',
             'ALTER TABLE "sales"."vault" ROW LEVEL SECURITY ON CONJUNCTION TYPE AND']

# Definitions a policy name may take: A and B may give one name different ones (an ALTER, or a rebuild when the
# WITH columns differ) or one definition different names (a rename).
RLS_DEFINITIONS = {
    "eu": ((("region", "VARCHAR(8)"),), "region = 'EU'"),
    "eu_or_us": ((("region", "VARCHAR(8)"),), "region IN ('EU', 'US')"),
    "eu_wide": ((("region", "VARCHAR(16)"),), "region = 'EU'"),
    "small": ((("amount", "INTEGER"),), "amount < 100"),
    "large": ((("amount", "INTEGER"),), "amount >= 100"),
}
RLS_NAMES = {"p_region": ("eu", "eu_or_us", "eu_wide"), "p_region_v2": ("eu", "eu_or_us"),
             "p_amount": ("small", "large"), "p_amount_v2": ("small",)}
MASK_DEFINITIONS = {
    "stars": ((("email", "VARCHAR(64)"),), "CAST('***' AS VARCHAR(64))"),
    "hash": ((("email", "VARCHAR(64)"),), "CAST('#' AS VARCHAR(64))"),
    "stars_wide": ((("email", "VARCHAR(128)"),), "CAST('***' AS VARCHAR(128))"),
    "first": ((("email", "VARCHAR(64)"),), "LEFT(email, 1)"),
    "clear": ((("email", "VARCHAR(64)"),), "email"),
}
MASK_NAMES = {"m_hide": ("stars", "hash", "stars_wide"), "m_hide_v2": ("stars", "hash"), "m_first": ("first",),
              "m_clear": ("clear",)}


def _grantees(roles: Sequence[str]) -> list[str]:
    return [*roles, PUBLIC_GRANTEE]


@st.composite
def models(draw: st.DrawFn) -> AccessState:
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=4, unique=True).map(sorted))
    items: list[AccessObject] = [Role(r) for r in roles]
    for index, role in enumerate(roles):
        for other in roles[index + 1:]:
            if draw(st.integers(0, 4)) == 0:
                items.append(RoleGrant(role, other))  # acyclic: only to roles later in the list
    for grantee in _grantees(roles):
        if draw(st.booleans()):
            items.append(SchemaPrivilege("sales", "USAGE", grantee))
        if grantee != PUBLIC_GRANTEE and draw(st.integers(0, 5)) == 0:
            items.append(ScopedTablePrivilege("sales", "SELECT", grantee))
        for table in (ORDERS, ACCOUNTS):
            choice = draw(st.integers(0, 3))
            if choice in (1, 2):
                items.append(TablePrivilege(*table, "SELECT", grantee))
            elif choice == 3:
                items += [ColumnPrivilege(*table, column, "SELECT", grantee)
                          for column in draw(st.lists(st.sampled_from(COLUMNS[table]), min_size=1, unique=True))]
    if roles and draw(st.integers(0, 4)) == 0:
        items.append(SystemPrivilege("IGNORE RLS", draw(st.sampled_from(roles))))
    names = {name: draw(st.sampled_from(options)) for name, options in RLS_NAMES.items()}
    used: set[str] = set()
    for table in (ORDERS, ACCOUNTS):
        if draw(st.booleans()):
            items.append(RlsTable(*table, draw(st.sampled_from(("AND", "OR")))))
        for grantee in _grantees(roles):
            for name in draw(st.lists(st.sampled_from(sorted(RLS_NAMES)), max_size=2, unique=True)):
                columns, _ = RLS_DEFINITIONS[names[name]]
                if all(c in COLUMNS[table] for c, _ in columns):
                    items.append(RlsAttachment(name, *table, grantee))
                    used.add(name)
    items += [RlsPolicy(name, *RLS_DEFINITIONS[names[name]]) for name in sorted(used)]
    masks = {name: draw(st.sampled_from(options)) for name, options in MASK_NAMES.items()}
    used = set()
    for table in (ORDERS, ACCOUNTS):
        policies = draw(st.lists(st.sampled_from(sorted(MASK_NAMES)), max_size=3, unique=True))
        priorities = draw(st.permutations((10, 20, 30)))
        public_policy = draw(st.sampled_from([None, *policies])) if policies else None
        for rank, name in enumerate(policies):
            # Different policies on a column never share a priority; PUBLIC's comes below every role's.
            priority = 5 if name == public_policy else priorities[rank]
            grantees = [PUBLIC_GRANTEE] if name == public_policy else draw(
                st.lists(st.sampled_from(roles), max_size=len(roles), unique=True))
            taken = {a.grantee for a in items if isinstance(a, MaskingAttachment) and (a.schema, a.table) == table}
            for grantee in grantees:
                if grantee not in taken:
                    items.append(MaskingAttachment(name, *table, ("email",), grantee, (), priority))
                    used.add(name)
    items += [MaskingPolicy(name, *MASK_DEFINITIONS[masks[name]]) for name in sorted(used)]
    return AccessState.of(items)


@st.composite
def model_pairs(draw: st.DrawFn) -> tuple[AccessState, AccessState, bool, int]:
    return draw(models()), draw(models()), draw(st.booleans()), draw(st.integers(1, 40))


# ------------------------------------------------------------------------------------------ running a pair


@dataclass
class Stats:
    pairs: int = 0
    deploys: int = 0
    boundaries: int = 0
    interrupted: int = 0
    seconds: float = 0.0
    widenings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.pairs} model pairs, {self.deploys} deploys ({self.interrupted} interrupted and planned anew), "
                f"{self.boundaries} batch boundaries judged in {self.seconds:.1f} s")


def _plan(fake: FakeRedshift, desired: AccessState, prune: bool) -> Plan:
    return plan(desired, fake.state(), fake.ledger(MODEL), prune=prune, group_limit=GROUP_LIMIT)


def _apply(fake: FakeRedshift, planned: Plan, states: list[AccessState], limit: int | None = None) -> int:
    """Apply the plan's steps (the first `limit` of them), the catalog after each appended to `states`."""
    cut = steps(planned, MODEL, LedgerTables(), MAX_STATEMENTS)
    for step in cut[:limit]:
        if step.statement is None:
            fake.execute_batch(list(step.sqls))
        else:
            fake.execute(step.sqls[0])
        states.append(fake.state(with_text=True))
    return len(cut)


def _judge(stats: Stats, states: list[AccessState], what: str) -> None:
    stats.deploys += 1
    stats.boundaries += max(len(states) - 2, 0)
    verdict = check_states(INPUTS, states)
    assert verdict.unchecked == [], verdict.unchecked
    assert verdict.ok, f"{what}:\n" + "\n".join(verdict.details())


def run_pair(stats: Stats, a: AccessState, b: AccessState, prune: bool, interrupt_at: int) -> None:
    fake = FakeRedshift()
    fake.execute_batch(LedgerTables().bootstrap_sql())
    for sql in HAND_MADE:
        fake.execute(sql)
    states = [fake.state(with_text=True)]
    _apply(fake, _plan(fake, a, prune), states)
    _judge(stats, states, "first deploy of A")
    assert not _plan(fake, a, prune), "A did not converge"
    start = fake.snapshot()

    states = [fake.state(with_text=True)]
    _apply(fake, _plan(fake, b, prune), states)
    _judge(stats, states, "A to B")
    assert not _plan(fake, b, prune), "B did not converge"

    fake.restore(start)
    states = [fake.state(with_text=True)]
    total = _apply(fake, _plan(fake, b, prune), states, interrupt_at)
    if interrupt_at < total:
        stats.interrupted += 1
        _apply(fake, _plan(fake, b, prune), states)
    _judge(stats, states, f"A to B interrupted after step {interrupt_at} and planned again")
    assert not _plan(fake, b, prune), "B did not converge after the interruption"
    stats.pairs += 1


def test_no_batch_boundary_widens_access() -> None:
    stats = Stats()
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(pair=model_pairs())
    def check(pair: tuple[AccessState, AccessState, bool, int]) -> None:
        run_pair(stats, *pair)

    check()
    stats.seconds = time.monotonic() - started
    print(stats.summary())
    assert stats.boundaries >= MIN_BOUNDARIES, stats.summary()
