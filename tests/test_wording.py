"""Counts in messages agree with their nouns (a new user saw "1 Data API batches" and "1 tables' columns"): one
helper, `redshift_idc.wording.plural`, words them for the CLI, the review and synth."""

from __future__ import annotations

from pathlib import Path

import pytest

from redshift_idc.access.estimate import ApplyEstimate
from redshift_idc.access.model import parse_model
from redshift_idc.access.transition.verdict import TransitionVerdict
from redshift_idc.config.environment import load_environment
from redshift_idc.review.plan_report import plan_header
from redshift_idc.wording import plural


@pytest.mark.parametrize(("count", "singular", "plural_form", "expected"), [
    (0, "statement", None, "0 statements"),
    (1, "statement", None, "1 statement"),
    (2, "statement", None, "2 statements"),
    (1, "Data API batch", "Data API batches", "1 Data API batch"),
    (3, "Data API batch", "Data API batches", "3 Data API batches"),
    (1, "table's columns", "tables' columns", "1 table's columns"),
    (12_345, "table's columns", "tables' columns", "12,345 tables' columns"),
    (1_000_000, "role", None, "1,000,000 roles"),
    (-1, "role", None, "-1 roles"),
])
def test_plural(count: int, singular: str, plural_form: str | None, expected: str) -> None:
    assert plural(count, singular, plural_form) == expected


def test_one_batch_of_one_statement_is_said_in_the_singular() -> None:
    size = ApplyEstimate(statements=1, batches=1, seconds=1.5, kinds=(("role", 1),))
    assert size.summary().startswith("1 statement in 1 Data API batch; estimated apply time 2 s")
    header = plan_header(load_environment("demo"), parse_model({}, name="demo", source=Path("access/demo.yaml")).model,
                         size)
    assert "-- first deploy from an empty warehouse: 1 statement in 1 Data API batch\n" in header
    many = ApplyEstimate(statements=2_500, batches=1_200, seconds=1_800.0, kinds=())
    assert many.summary().startswith("2,500 statements in 1,200 Data API batches; ")


def test_the_transition_line_counts_in_the_singular() -> None:
    assert TransitionVerdict(batches=1, principals=1).line() == (
        "-- transition: no intermediate state widens access (1 batch, 1 principal checked)")
    assert TransitionVerdict(batches=1_001, principals=2).line() == (
        "-- transition: no intermediate state widens access (1,001 batches, 2 principals checked)")
