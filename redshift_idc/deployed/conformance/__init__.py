"""`python -m redshift_idc conformance`: what a real Redshift Serverless workgroup answers to every statement and
catalog query the project uses, recorded on a scratch database, so the tests' fake warehouse can be checked
against evidence instead of belief (issue 21).

A recording is one JSON file (`"format": "redshift-idc-conformance"`, `"version": 1`), sorted keys:

- `source`: `"redshift"` for a real workgroup, `"fake"` for one generated from `tests/fake_redshift.py`
  (`tests/fake_conformance.py`); `redshift_version` (`SELECT version()`), `database`, `region`, `read_as` (the
  admin user). No account id, workgroup name, ARN or secret is written.
- `flags`: which forms that need IAM Identity Center, Glue or a datashare were covered (`--with-*`).
- `scratch_check`: what the database held beyond a new workgroup's objects (`found`), whether `--force` let the
  run go on, whether leftovers of an interrupted run were removed first.
- `model`: the access model the recorder applied last, as the compiled model document the custom resource reads
  (`document`: `{"desired": ..., "scripts": [], "scope": ...}`), its name, ledger schema and the IdC namespace
  whose users were read (one no real user has).
- `deploys`: the two deploys (`deploy-1` creates, `deploy-2` alters, revokes, detaches and drops), each with the
  planner's statements and, when one failed, its error; `model_applied`: both committed. `covered_forms`: the
  statement forms applied, names and values left out.
- `reads`: every catalog query of the reconciler, `verify`, `snapshot` and `import`, by name: its SQL and raw
  rows, read after the second deploy. The replay test parses them and plans the model against them: 0 DDL.
- `probes`: the open questions of REDSHIFT_REFERENCE.md a scratch workgroup answers, each with its statements'
  success or error text; `batch_size`: whether a batch of 40 small statements over 90 KB in total runs.
- `calls`: every Data API call with its phase, statement, object and byte counts, statement forms, wall seconds
  and the service's `Duration` (to calibrate `access/estimate.py`).
- `cleanup_errors`: cleanup statements that failed (most are "does not exist" for what a failed run never made).
"""
