"""How messages word a count, so that no command prints "1 Data API batches": one rule for the CLI, the review,
synth and the deployed-environment checks. The Lambda runtime (`redshift_idc/runtime/`), which imports nothing
else of redshift_idc, words its own log lines."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` with thousands separators (`1,024`), then the noun agreeing with it: `plural_form` when given
    (batch, batches; table's columns, tables' columns), otherwise the singular with an `s`."""
    noun = singular if count == 1 else (plural_form if plural_form is not None else f"{singular}s")
    return f"{count:,} {noun}"
