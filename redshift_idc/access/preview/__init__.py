"""Who sees what: an offline access preview of the compiled model, evaluated on sample rows in DuckDB.

It reads the same compiled desired state (`AccessState`) the planner diffs, never the YAML again, and
applies Redshift's rules (REDSHIFT_REFERENCE.md):

- Roles: a persona holds its IdC groups' roles `<namespace>:<group>`, every role granted to those
  (transitively, `GRANT ROLE ... TO ROLE`, section 3.2) and PUBLIC.
- Table access (3.3): SELECT on the table (a table grant or a scoped `FOR TABLES IN SCHEMA` grant) and
  USAGE on its schema; everyone has USAGE on schema `public` by default [D24]. With column grants only,
  just those columns are visible.
- RLS (3.6, [D32][D34], 1 [D37]): on a table with ROW LEVEL SECURITY ON, IGNORE RLS from any role
  shows every row; otherwise the policies attached to the persona's roles or PUBLIC apply, combined by
  the table's conjunction type; none applies: no rows. Predicates see the unmasked row; `current_user`
  is the persona's user (`<namespace>:<name>`, folded), `user_is_member_of(current_user, 'role')` is
  evaluated from the persona's roles.
- Masking (3.7, [D40][D43]): per column, of the attachments to the persona's roles or PUBLIC, the one
  with the highest priority wins; its expression is evaluated over its input columns.

Sample rows are the `INSERT ... VALUES` of the model's scripts (translated from Redshift SQL by sqlglot)
and the model's `sample_data` CSV files. A construct the preview cannot evaluate faithfully (a parse
error, a function DuckDB lacks, `user_is_member_of` about another user) is a `PreviewError` naming it,
never a guess.

One module per step: `inputs` (the tables, personas and sample rows' sources, written into the cloud
assembly for the review), `rules` (the compiled state indexed by role and table), `samples` (the sample
rows in an in-memory DuckDB), `translate` (a Redshift expression as DuckDB SQL for one persona, cached),
`evaluator` (each persona's view of each table: all of a table's personas in a few queries, or one pair
alone), `lints` (the warnings), `expectations` (the model's `expect` entries checked), `build` (those put
together: `evaluate`, `build_preview`) and `render` (text, markdown, JSON). `results` holds what a preview
returns (a view's rows built only when read) and its error. The transition check
(`access/transition/`) reuses `rules`, `samples` and `evaluator` on its intermediate states.
"""
