"""The shipped sample snapshots, read the way `python -m redshift_idc snapshot` reads a warehouse:

- `access/sample-lakehouse/catalog-before-rename.json`: a warehouse where an earlier version of
  `access/sample-lakehouse.yaml` was deployed;
- `access/sample-lakehouse/catalog-hand-made.json`: the same objects as the model declares, made by hand (no
  ledger), with the catalog's rows in Redshift's stored forms (the fake renders them as documented): what
  `make import` adopts. Imported, the model plans against it to 0 statements.

That earlier version named the PUBLIC masking policy `hide_email_v1` (the model now calls it `hide_email`) and
gave 40 team roles, since folded into the `sales` group, USAGE on the data lake schema and the datashare.
`make plan ENV=sample-lakehouse SNAPSHOT=access/sample-lakehouse/catalog-before-rename.json` therefore renames a
masking policy in a plan of several batches, and its last line is the transition check's verdict: the rename
commits in one transaction, so no batch boundary shows anyone an unmasked e-mail address.

The file is built here on the in-memory Redshift (`tests/fake_redshift.py`) and its Data API double, and
`tests/test_sample_snapshot.py` checks it still is what this builds. Rewrite it with
`.venv/bin/python -m tests.sample_snapshots`.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

from redshift_idc import project
from redshift_idc.access.checked import checked_model
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.snapshot import snapshot_command
from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    DatabasePrivilege,
    MaskingAttachment,
    MaskingPolicy,
    Role,
    SchemaPrivilege,
)
from redshift_idc.runtime.planner import plan
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import SimClock
from tests.fake_redshift import FakeRedshift

ENV = "sample-lakehouse"
SNAPSHOT = Path("access") / "sample-lakehouse" / "catalog-before-rename.json"
HAND_MADE = Path("access") / "sample-lakehouse" / "catalog-hand-made.json"
OLD_MASK = "hide_email_v1"
TEAMS = 40
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:555555555555:secret:sample-lakehouse-admin-AbCdEf"
COLUMNS = {("public", "orders"): ["order_id", "region", "customer_email", "amount"],
           ("security", "entitlements"): ["user_name", "region"]}
# What connecting the namespace to IAM Identity Center registers (never a model's, left alone by the plan).
IDC_PROVIDER = ("CREATE IDENTITY PROVIDER \"redshift-idc-sample-lakehouse\" TYPE AWSIDC NAMESPACE 'AWSIDC' "
                "APPLICATION_ARN 'arn:aws:sso::555555555555:application/ssoins-5555555555555555/apl-5555555555555555' "
                "IAM_ROLE 'arn:aws:iam::555555555555:role/redshift-idc-sample-lakehouse'")


def earlier_model(current: AccessState) -> AccessState:
    """The model as it was: `hide_email` named `hide_email_v1`, and the team roles with their grants."""
    items: list[AccessObject] = []
    for item in current:
        if isinstance(item, MaskingPolicy) and item.name == "hide_email":
            item = dataclasses.replace(item, name=OLD_MASK)
        elif isinstance(item, MaskingAttachment) and item.policy == "hide_email":
            item = dataclasses.replace(item, policy=OLD_MASK)
        items.append(item)
    for n in range(TEAMS):
        team = f"AWSIDC:sales-team-{n:02d}"
        items += [Role(team), SchemaPrivilege("lake_sales", "USAGE", team),
                  DatabasePrivilege("shared_finance", "USAGE", team)]
    return AccessState.of(items, current.case_sensitive)


def build(out_path: Path) -> str:
    """Deploy the earlier model to a fresh fake warehouse and snapshot it into `out_path`; returns the CLI's
    report line."""
    config = load_environment(ENV)
    checked = checked_model(config)
    fake = FakeRedshift()
    fake.execute(IDC_PROVIDER)
    earlier = earlier_model(checked.desired)
    fake.execute("CREATE SCHEMA IF NOT EXISTS \"security\"")
    fake.apply(plan(earlier, fake.state(), {}), checked.model.name)
    return _snapshot(fake, out_path)


def build_hand_made(out_path: Path) -> str:
    """Make the model's objects by hand on a fresh fake warehouse (its first deploy's statements run one by one,
    no ledger, with the IdC provider Redshift registers) and snapshot it into `out_path`."""
    desired = checked_model(load_environment(ENV)).desired
    fake = FakeRedshift()
    fake.execute(IDC_PROVIDER)
    fake.execute("CREATE SCHEMA IF NOT EXISTS \"security\"")
    for statement in plan(desired, fake.state(), {}).statements:
        fake.execute(statement.sql)
    return _snapshot(fake, out_path)


def _snapshot(fake: FakeRedshift, out_path: Path) -> str:
    clock = SimClock()
    api = CatalogDataApi(fake, clock, columns=COLUMNS)
    out, err = io.StringIO(), io.StringIO()
    code = snapshot_command(ENV, SECRET_ARN, None, out_path, force=True, client=api, sleep=clock.sleep,
                            out=out, err=err)
    if code != 0:
        raise RuntimeError(f"snapshot failed: {err.getvalue()}")
    return out.getvalue()


if __name__ == "__main__":
    print(build(project.ROOT / SNAPSHOT), end="", file=sys.stderr)
    print(build_hand_made(project.ROOT / HAND_MADE), end="", file=sys.stderr)
