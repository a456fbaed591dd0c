"""The shipped sample snapshot (`tests/sample_snapshots.py` says what it holds): it is what the fake builds, and
planning the sample-lakehouse model against it renames a masking policy in a plan of several batches whose
transition check finds no widening."""

from __future__ import annotations

from pathlib import Path

import pytest

from redshift_idc import project
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.snapshot import load_snapshot
from redshift_idc.review.plan_report import snapshot_plan_report
from redshift_idc.runtime.ledger import steps
from tests.sample_snapshots import ENV, OLD_MASK, SNAPSHOT, build


def test_the_shipped_snapshot_is_what_the_fake_builds(tmp_path: Path) -> None:
    fresh = tmp_path / "catalog.json"
    build(fresh)
    shipped = (project.ROOT / SNAPSHOT).read_text(encoding="utf-8")
    assert fresh.read_text(encoding="utf-8") == shipped, (
        f"{SNAPSHOT} is stale: rewrite it with `.venv/bin/python -m tests.sample_snapshots`")


def test_its_plan_renames_a_masking_policy_across_batches_without_a_widening() -> None:
    report = snapshot_plan_report(load_environment(ENV), project.ROOT / SNAPSHOT)
    lines = report.text.splitlines()
    detach = next(i for i, line in enumerate(lines) if line.startswith(f'DETACH MASKING POLICY "{OLD_MASK}"'))
    assert lines[detach + 1].startswith('ATTACH MASKING POLICY "hide_email" ON "public"."orders"')
    assert f'DROP MASKING POLICY "{OLD_MASK}";' in lines
    assert report.transition is not None and report.transition.ok
    assert report.transition.batches >= 2  # coalesced: fewer, larger statements
    assert lines[-1].startswith(f"-- transition: no intermediate state widens access ({report.transition.batches} "
                                "batches")


def test_the_rename_commits_in_one_batch_of_several() -> None:
    """The detach and the attach are one restriction group: whatever the batch sizes, one batch holds both."""
    from redshift_idc.access.checked import checked_model
    from redshift_idc.access.model import prune_scope
    from redshift_idc.runtime.planner import plan

    config = load_environment(ENV)
    checked = checked_model(config)
    snapshot = load_snapshot(project.ROOT / SNAPSHOT)
    parsed = snapshot.parsed()
    planned = plan(checked.desired, parsed.state, snapshot.ledger_for(checked.model.name), prune=checked.model.prune,
                   scope=prune_scope(checked.model), owners=snapshot.owners_for(checked.model.name))
    cut = steps(planned, checked.model.name)
    assert len(cut) >= 3
    holding = [n for n, step in enumerate(cut) if any(OLD_MASK in sql for sql in step.sqls if "MASKING" in sql)]
    together = [n for n, step in enumerate(cut)
                if any(sql.startswith(f'DETACH MASKING POLICY "{OLD_MASK}"') for sql in step.sqls)
                and any(sql.startswith('ATTACH MASKING POLICY "hide_email"') for sql in step.sqls)]
    assert together and together[0] in holding


def test_the_shipped_hand_made_snapshot_is_what_the_fake_builds(tmp_path: Path) -> None:
    from tests.sample_snapshots import HAND_MADE, build_hand_made

    fresh = tmp_path / "catalog.json"
    build_hand_made(fresh)
    assert fresh.read_text(encoding="utf-8") == (project.ROOT / HAND_MADE).read_text(encoding="utf-8"), (
        f"{HAND_MADE} is stale: rewrite it with `.venv/bin/python -m tests.sample_snapshots`")


def test_a_model_imported_from_the_hand_made_snapshot_plans_to_no_statement(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's adoption example, as a new user runs it: `make import` over the sample model from the shipped
    hand-made snapshot (Redshift's stored forms: decoded policy text, a lookup table), then `make plan SNAPSHOT=`."""
    import shutil

    from redshift_idc.cli.main import main
    from tests.sample_snapshots import HAND_MADE

    for folder in ("config", "access", "sql"):
        shutil.copytree(project.ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    snapshot = str(tmp_path / HAND_MADE)
    model = str(tmp_path / "access" / f"{ENV}.yaml")
    assert main(["import", "--env", ENV, "--from-snapshot", snapshot, "--out", model, "--force"]) == 0
    assert "needs work" not in capsys.readouterr().err
    assert main(["plan", "--env", ENV, "--snapshot", snapshot]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if not line.startswith("-- ")] == []
    assert any(line.startswith("-- against the snapshot: 0 statement(s)") for line in lines)
