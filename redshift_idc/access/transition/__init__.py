"""The transition check: a plan replayed batch by batch, and at every boundary what each principal sees compared
with what it saw before the deploy and what it sees after it.

The rule (README, "Safety guarantees"): after every committed batch, for every role, PUBLIC, every persona of the
model and every pair of roles that share an RLS-protected table, what it sees of each table (each row, column and
shown value, with RLS and masking applied) is contained in what it saw before the deploy or what it sees after it.
A first deploy's "before" is nothing, so restrictions must be in force before the grants that expose a table.

Two judges, over the same replayed states:

- Every table is first judged by its restrictions: a principal that may read it at a boundary is surely within
  the rule when, column by column, it is at least as restricted as before or as after (the same rows or fewer:
  RLS on, its policies by name and text, combined by the conjunction type; each column with the same masking
  policy). That settles almost every boundary without rows.
- What the restrictions cannot vouch for, on a table the model declares, is evaluated on the model's sample rows
  by the preview's evaluator (DuckDB): the cells a principal sees at a boundary must each be a cell it saw before
  or sees after, value included (so the union of old and new rows under OR passes, and a masking swap that would
  show the raw value for a moment does not).
- Tables the model does not declare have no columns or rows here: they are treated as readable by anyone the
  catalog grants them to, and besides the check above, every restriction they had before must still be there at
  every boundary, the last included, unless it is the model's own (its ledger records it): so a prune that turns
  their RLS off while PUBLIC keeps SELECT is caught.


Only the tables a batch changed, and the principals holding a role the change names, are judged again at each
boundary (a 1,000-role model's 600 batches are checked in about 2 s: `bench/transition_scale.py`).

What it cannot see: grants to users (the catalog read covers roles and PUBLIC), table owners and superusers, and
anything a `sql/` script does that the model's declared tables and sample rows do not show.

One module per part: `verdict` (what the check returns and how `plan` prints it), `principals` (who is checked),
`restrictions` (a principal's view of a table by its grants and restrictions, and whether one view is within
another), `table_rules` (one table's rules in one state, changed object by object), `states` (a state kept up to
date delta by delta, and the deltas between states), `cells` (a view evaluated on the sample rows by the preview's
evaluator) and `check` (the replay: `check_plan`, `check_states`).
"""
