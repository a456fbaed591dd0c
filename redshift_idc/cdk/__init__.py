"""The CDK side: stacks and constructs that deploy an environment, installable with `pip install ".[cdk]"`."""
