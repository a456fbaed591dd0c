"""Reusable CDK constructs and checks shared by the stacks."""
