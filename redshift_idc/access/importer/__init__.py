"""`python -m redshift_idc import`: write an access model from a warehouse's live catalog. Changes nothing.

It adopts an existing warehouse: the model it writes, planned against the catalog it was read from, runs
no DDL; a deploy only records the objects in the reconciler's ledger. The catalog comes from a snapshot
(`snapshot.py`): read now with the caller's credentials, or from a `snapshot` file (`--from-snapshot`),
which is the reconciler's own read plus the policy definitions and table columns an import needs.

What it writes, in a fixed order so two imports of one catalog give the same file:

- `roles`: `<identity namespace>:<group>` roles of groups the environment assigns become `idc_groups`
  (spelled as `config/<env>.yaml` spells the group); roles without `:` become `plain`. Other prefixed roles
  (another identity provider's, or groups the environment does not assign) and system roles are left out,
  with everything granted to them, each reported on stderr.
- grants (role, schema, table, column, scoped), grouped so that one entry covers every table, privilege and
  grantee that share a definition; the grantee PUBLIC is written `PUBLIC`. Default privileges (ALTER DEFAULT
  PRIVILEGES) to those roles and PUBLIC likewise, one entry per creator, schema and object type: the model then
  manages them (a deploy records them), while a model that does not list them never revokes them.
- RLS policies, attachments, table settings (both conjunction types written out) and IGNORE RLS; masking
  policies and attachments with their priorities. Policy text is what Redshift returns (SVV_RLS_POLICY
  rewrites the predicate), only without the policy alias before column names, with a comment saying so.
- identity providers other than the one IAM Identity Center registered for the environment's namespace,
  their secret as a `secretsmanager:` placeholder to fill in (the catalog blanks it).
- `tables:` declares every table those name, with its columns from `svv_columns` (in table order), plus any
  referenced column the view did not list; `schemas:` the schemas grants name that no table declares.
- `removal_policy: retain`: the objects existed before this tool; deleting the stack must not drop them.

It then checks its own work: the file is compiled with the environment (every check `validate` runs on a
model), and planned against the snapshot: anything but zero statements is reported. Exit codes: 0 written
and it adopts everything it declares; 1 written, but it does not validate yet or would run DDL (the
messages say what to fix); 2 nothing written (configuration, credentials, an existing file without
--force).

One module per part: `reader` (one snapshot being read: the names the model gives roles and tables, what is
left out), a module per section of the model (`roles`, `grants`, `policies` for RLS and masking, `providers`),
`document` (the sections in the order they are written, with the header and comments), `yaml_text` (writing
them as YAML that loads back to the same model), `round_trip` (the model compiled and planned against the
snapshot: zero statements) and `command` (the CLI).
"""
