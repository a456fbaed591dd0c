"""cdk.json carries the feature flags aws-cdk-lib recommends (what `cdk init` writes), so `cdk synth` does
not report unconfigured flags, and the in-process synths of the tests use the same ones."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import aws_cdk

from redshift_idc.cdk.app_start import FEATURE_FLAGS

ROOT = Path(__file__).resolve().parents[1]
# Ours on purpose (app_builder.py says why); every other flag is as aws-cdk-lib recommends.
OVERRIDES = {
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
    "@aws-cdk/core:target-partitions": ["aws"],
    "@aws-cdk/core:explicitStackTags": False,
}


def recommended() -> dict[str, object]:
    bundle = next((Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, object] = json.load(member)
    return flags


def test_cdk_json_sets_every_recommended_flag_and_only_our_overrides_differ() -> None:
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    flags = recommended()
    assert sorted(set(flags) - set(context)) == []  # a newer aws-cdk-lib recommends more: add them
    assert {k: context[k] for k in flags if context[k] != flags[k]} == OVERRIDES
    assert context == FEATURE_FLAGS  # the tests' synths use the CLI's flags
