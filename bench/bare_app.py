"""The yardstick `bench/synth_timing.py` times `make synth` against: a CDK app of one S3 bucket and nothing else.

    npx cdk synth --app ".venv/bin/python bench/bare_app.py" --quiet --no-notices -o <folder>

Run from the checkout's root, the CLI reads the same cdk.json (its feature flags, CDK's template validation among
them) and is the same pinned CLI as `make synth`'s; what is left between the two is what this project adds: its
imports, its stacks and its checks.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


def bare_app(app: cdk.App) -> cdk.App:
    s3.Bucket(cdk.Stack(app, "BareBucket"), "Bucket")
    return app


if __name__ == "__main__":
    bare_app(cdk.App()).synth()
