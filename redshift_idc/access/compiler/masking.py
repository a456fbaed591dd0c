"""Dynamic data masking (`masking`): policies and their attachments to table columns.

Checked here rather than at deploy: the expression names only its WITH columns, its output fits the
column it masks (masking_output.py), each attachment gives as many input columns as the policy takes,
priorities are distinct per column, and PUBLIC's attachment stays below every role's (Redshift applies
the highest priority, so a role's policy would otherwise never win).
"""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.access.expressions import ExpressionError, check_expression
from redshift_idc.access.masking_output import Attachment, check_masking_output
from redshift_idc.access.model_file import MaskingPolicySpec
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE, MaskingAttachment, MaskingPolicy
from redshift_idc.runtime.sql_text import collapse_whitespace, fold


def compile_masking(resolver: Resolver) -> None:
    seen: set[str] = set()
    priorities: dict[tuple[str, str, str, int], str] = {}
    attached: dict[tuple[str, str, str], list[tuple[bool, int, str, str]]] = {}
    for i, policy in enumerate(resolver.model.masking.policies):
        where = f"masking.policies[{i}]"
        resolver.unique_name(where, policy.name, seen, "masking policy")
        columns = resolver.policy_columns(where, policy.with_)
        try:
            check_expression(policy.using, [c for c, _ in columns], resolver.cs)
        except ExpressionError as error:
            fail(f"{where}.using", str(error))
        resolver.functions(f"{where}.using", policy.using)
        _check_output(resolver, where, policy, columns)
        resolver.objects.append(MaskingPolicy(policy.name, columns, collapse_whitespace(policy.using)))
        for j, attach in enumerate(policy.attach):
            at = f"{where}.attach[{j}]"
            inputs = attach.input_columns or attach.columns
            if len(inputs) != len(columns):
                fail(at, f"the policy takes {len(columns)} input column(s) ({', '.join(policy.with_)}); "
                     f"the attachment gives {len(inputs)}: set input_columns")
            schema, name = resolver.table(f"{at}.table", attach.table, tuple(attach.columns) + tuple(inputs))
            role = resolver.role(f"{at}.to", attach.to, public=True)
            for column in attach.columns:
                attached.setdefault((fold(schema), fold(name), fold(column)), []).append(
                    (role == PUBLIC_GRANTEE, attach.priority, f"{at}.priority", f"{attach.table}.{column}"))
                slot = (fold(schema), fold(name), fold(column), attach.priority)
                other = priorities.get(slot)
                if other is not None and other != fold(policy.name):
                    fail(f"{at}.priority", f"priority {attach.priority} on {attach.table}.{column} is already "
                         f"used by masking policy '{other}'; Redshift requires distinct priorities per column")
                priorities[slot] = fold(policy.name)
            resolver.objects.append(MaskingAttachment(policy.name, schema, name, tuple(attach.columns), role,
                                                      tuple(attach.input_columns), attach.priority))
    for slots in attached.values():
        lowest_role = min((priority for public, priority, _, _ in slots if not public), default=None)
        for public, priority, where, column in slots:
            if public and lowest_role is not None and priority >= lowest_role:
                fail(where, f"the PUBLIC attachment on {column} has priority {priority}, not below every role "
                     f"attachment's on that column (lowest: {lowest_role}); Redshift applies the highest "
                     f"priority, so a role's policy only wins over PUBLIC's with a higher one: give PUBLIC "
                     f"less than {lowest_role}")


def _check_output(resolver: Resolver, where: str, policy: MaskingPolicySpec,
                  columns: tuple[tuple[str, str], ...]) -> None:
    """The policy's output must fit the column it masks (masking_output.py): refused here, not at deploy."""
    attachments = [Attachment(f"attach[{j}]", a.table, a.columns, a.input_columns)
                   for j, a in enumerate(policy.attach)]
    try:
        check_masking_output(policy.using, columns, attachments, resolver.cs)
    except ExpressionError as error:
        fail(f"{where}.using", str(error))
