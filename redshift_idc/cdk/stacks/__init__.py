"""Stacks: each wires constructs for one concern of an environment."""
