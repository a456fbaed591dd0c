"""The model's lints: valid models that will probably break, found from the model and its scripts alone.

The preview's lints (`preview/lints.py`) need the sample rows evaluated, and the preview cannot evaluate a policy
that calls a UDF, the very policies these lints are about; so these run on every `validate`, `plan` and synth
(`checked.py`), preview or not. Each is a `PreviewWarning` (code, message) and is accepted, like the preview's,
by an `allow_warnings` entry with its reason: an accepted lint is not shown, an unaccepted one is shown as a
warning, and `plan --strict` fails on it.

- `python-udf-in-policy`: an RLS or masking policy calls a function the model's scripts create with
  `LANGUAGE plpythonu`. Redshift ends support for Python UDFs after June 30, 2026 (the banner on the Database
  Developer Guide's pages and the AWS Big Data Blog post it links, `PYTHON_UDF_END`), so the policy depends on
  a function Redshift stops running.
- `federated-membership-function` (`federated_lints.py`): with `warehouse.federated_permissions` on, an RLS or
  masking policy calls a `*_is_member_of` function, so other warehouses cannot read what it protects.
- `default-privileges-unrestricted` (`default_privilege_lints.py`): default privileges give SELECT on the tables a
  creator makes later to a role the model restricts (RLS, masking) on that schema's tables: a new table has neither
  until a deploy attaches them.
"""

from __future__ import annotations

from collections.abc import Sequence

from redshift_idc.access.default_privilege_lints import default_privilege_lints
from redshift_idc.access.federated_lints import federated_membership_lints
from redshift_idc.access.functions import called_udfs, calls, created_functions
from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.results import PreviewWarning
from redshift_idc.runtime.reconcile_request import ScriptEntry

PYTHON_UDF_END = ("https://aws.amazon.com/blogs/big-data/amazon-redshift-python-user-defined-functions-will-reach-"
                  "end-of-support-after-june-30-2026/")
PYTHON_LANGUAGE = "plpythonu"  # the only Python language Redshift's CREATE FUNCTION takes (r_CREATE_FUNCTION)


def model_lints(model: AccessModel, scripts: Sequence[ScriptEntry], *, federated: bool = False,
                environment: str = "") -> list[PreviewWarning]:
    """Every lint of the model, accepted or not, in the order of the model file; `federated`: the environment
    (`environment`, its config file's stem) registers its namespace with federated permissions."""
    return [*python_udf_lints(model, scripts),
            *federated_membership_lints(model, federated=federated, environment=environment),
            *default_privilege_lints(model)]


def python_udf_lints(model: AccessModel, scripts: Sequence[ScriptEntry]) -> list[PreviewWarning]:
    """One `python-udf-in-policy` per policy and Python UDF it calls, naming the policy, the function and the
    script that creates it. The scripts are parsed first: a model without Python UDFs parses no expression."""
    python = [f for f in created_functions(scripts) if f.language == PYTHON_LANGUAGE]
    if not python:
        return []
    found: list[PreviewWarning] = []
    for kind, field, index, policy in model.policies():
        for call in calls(policy.using):
            for function in called_udfs(call, python):
                created = (f"{function.schema}.{function.name}" if function.schema else function.name) + (
                    f"({', '.join(function.arguments)})")
                written = f"{call.schema}.{call.name}" if call.schema else call.name
                found.append(PreviewWarning("python-udf-in-policy", (
                    f"access/{model.name}.yaml: {field}.policies[{index}]: {kind} policy {policy.name} calls "
                    f"{written}(), which sql/{function.script} creates as {created} LANGUAGE {PYTHON_LANGUAGE}: "
                    f"Redshift ends support for Python UDFs after June 30, 2026 ({PYTHON_UDF_END}), so this "
                    "policy depends on a function Redshift stops running. Rewrite the function as a SQL UDF "
                    "(CREATE OR REPLACE FUNCTION ... LANGUAGE sql, with the same arguments, in a new script) "
                    "or a Lambda UDF (CREATE EXTERNAL FUNCTION), or accept the warning in allow_warnings "
                    "with the reason")))
    return found


def unaccepted(model: AccessModel, warnings: Sequence[PreviewWarning]) -> list[PreviewWarning]:
    """The warnings `--strict` fails on: those whose code the model does not accept (`allow_warnings`)."""
    allowed = {a.code for a in model.allow_warnings}
    return [w for w in warnings if w.code not in allowed]
