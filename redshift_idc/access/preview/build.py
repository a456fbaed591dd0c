"""A preview put together: the rules evaluated on the inputs' sample rows for every persona and table, the
warnings, and (for a model) its expectations checked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.evaluator import Evaluator, personas_of
from redshift_idc.access.preview.expectations import failed_expectations
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.later import later_views
from redshift_idc.access.preview.lints import find_warnings
from redshift_idc.access.preview.results import Preview
from redshift_idc.access.preview.rules import Rules
from redshift_idc.access.preview.samples import Samples
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.reconcile_request import ScriptEntry


def build_preview(model: AccessModel, desired: AccessState, scripts: Sequence[ScriptEntry],
                  identity_namespace: str, access_dir: Path) -> Preview:
    """The model's preview, with its expectations checked (`failures`)."""
    result = evaluate(PreviewInputs.of_model(model, scripts, identity_namespace, access_dir), desired)
    result.failures = failed_expectations(model, result)
    return result


def evaluate(inputs: PreviewInputs, desired: AccessState) -> Preview:
    """Who sees what: the rules of `desired` on the tables, personas and sample rows of `inputs`."""
    rules = Rules(desired)
    samples = Samples(inputs)
    evaluator = Evaluator(inputs, rules, samples)
    personas = personas_of(inputs, rules)
    views = evaluator.persona_views(personas, sorted(inputs.tables))
    for view in views:
        view.later = later_views(rules, view.persona)
    return Preview(inputs.model, views, find_warnings(inputs, rules, evaluator, views), samples.db)
