"""A cdk-nag 3.x rule pack for Redshift Serverless namespaces and workgroups.

cdk-nag's own Redshift rules only look at provisioned clusters (``AWS::Redshift::Cluster``), so a
Serverless deployment passes them without any of its settings being checked. This pack covers the
Serverless resources with the same baseline we expect of a warehouse holding identity-propagated
user data: customer-managed encryption, complete audit logs, no long-lived admin password, no
public endpoint, TLS only and per-query audit logging.

Register it like any cdk-nag 3.x pack::

    cdk.Validations.of(app).add_plugins(RedshiftServerlessChecks(app))

Every rule is an ERROR, so ``app.synth()`` (and ``cdk synth``) fails while a violation is open.
A justified exception is acknowledged on the resource (or any ancestor construct) with
``cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=acknowledgement_id(RSS4_...),
reason="..."))``; see :func:`acknowledgement_id` for the id format.

The rules read the L1 props (``CfnNamespace``/``CfnWorkgroup``) resolved through the stack, so
tokens such as ``key.key_arn`` are evaluated. Like cdk-nag's own rules they do not see raw
``add_property_override`` escape hatches. Where a value is an intrinsic that cannot be evaluated
at synth time (for example a ``Fn::If`` for ``PubliclyAccessible``), the rule cannot prove the
setting and reports the resource: acknowledge it if the intrinsic is known to be safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_redshiftserverless as rss
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

PACK_NAME = "RedshiftServerless"
"""The pack (and validation plugin) name; it prefixes every rule id and namespaces acknowledgements."""

RSS1_NAMESPACE_CMK = f"{PACK_NAME}-RSS1"
RSS2_NAMESPACE_LOG_EXPORTS = f"{PACK_NAME}-RSS2"
RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD = f"{PACK_NAME}-RSS3"
RSS4_WORKGROUP_NOT_PUBLIC = f"{PACK_NAME}-RSS4"
RSS5_WORKGROUP_REQUIRE_SSL = f"{PACK_NAME}-RSS5"
RSS6_WORKGROUP_USER_ACTIVITY_LOGGING = f"{PACK_NAME}-RSS6"

RULE_IDS: tuple[str, ...] = (
    RSS1_NAMESPACE_CMK,
    RSS2_NAMESPACE_LOG_EXPORTS,
    RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD,
    RSS4_WORKGROUP_NOT_PUBLIC,
    RSS5_WORKGROUP_REQUIRE_SSL,
    RSS6_WORKGROUP_USER_ACTIVITY_LOGGING,
)
"""Every rule id this pack can report, as it appears in the validation report."""

REQUIRED_LOG_EXPORTS: frozenset[str] = frozenset({"connectionlog", "userlog", "useractivitylog"})
"""Namespace log types that must all be exported to CloudWatch (RSS2)."""


def acknowledgement_id(rule_id: str) -> str:
    """Return the id to pass to ``cdk.Acknowledgment`` to acknowledge ``rule_id`` of this pack.

    CDK's validation framework namespaces acknowledgements by plugin name, so the id is
    ``"RedshiftServerless::RedshiftServerless-RSS4"``: plugin name, ``::``, then the rule id exactly as
    reported. With that id ``app.synth()`` moves the finding, with its reason, to the report's
    ``suppressedViolations`` instead of failing. Two cdk-nag 3.0.2 behaviours to know:
    ``NagPack.validate_scope`` still lists findings acknowledged this way (CDK, not cdk-nag, applies
    them); and a bare ``"RedshiftServerless-RSS4"`` id also lets synth pass, but cdk-nag then drops the
    finding before CDK sees it, so the report keeps no record of the acknowledgement or its reason.
    """
    if rule_id not in RULE_IDS:
        raise ValueError(f"{rule_id!r} is not a rule of the {PACK_NAME} pack; expected one of {RULE_IDS}")
    return f"{PACK_NAME}::{rule_id}"


# --- value helpers ----------------------------------------------------------------------------


def _resolve(node: Any, value: Any) -> Any:
    """Resolve ``value`` in the node's stack, so tokens and IResolvables become plain data.

    L1 props may be tokens (``key.key_arn``), IResolvables or jsii structs; only the resolved form
    can be compared. Intrinsics that have no synth-time value stay as ``{"Fn::...": ...}`` dicts.
    """
    return cdk.Stack.of(node).resolve(value)


def _is_true(value: Any) -> bool:
    """Tell whether a resolved CloudFormation flag is true.

    CloudFormation accepts booleans and their string forms, and config parameter values are strings
    in the schema but often written as booleans, so both are compared as case-insensitive strings.
    """
    return isinstance(value, bool | str) and str(value).lower() == "true"


def _is_false_or_absent(value: Any) -> bool:
    """Tell whether a resolved flag is definitely off: absent (CloudFormation default) or false."""
    return value is None or (isinstance(value, bool | str) and str(value).lower() == "false")


def _config_parameter_is_true(node: Any, key: str) -> bool:
    """Tell whether the workgroup's ``config_parameters`` set ``key`` to true, and only to true.

    Resolved entries carry the struct's camelCase keys (``parameterKey``), the only ones CDK renders:
    a token holding CloudFormation's PascalCase keys is silently rendered as ``{}``, so such entries
    must not count as set.
    """
    params = _resolve(node, node.config_parameters)
    if not isinstance(params, list):
        return False
    values = [
        entry.get("parameterValue")
        for entry in params
        if isinstance(entry, dict) and str(entry.get("parameterKey")).lower() == key
    ]
    return bool(values) and all(_is_true(value) for value in values)


def _compliance(ok: bool) -> NagRuleCompliance:
    """Map a check outcome onto cdk-nag's compliance enum."""
    return NagRuleCompliance.COMPLIANT if ok else NagRuleCompliance.NON_COMPLIANT


# --- rule checks (each receives the CfnResource the pack dispatched) ----------------------------


def _namespace_has_cmk(node: Any) -> NagRuleCompliance:
    """RSS1: any resolved key id counts, including an unresolved ``Fn::GetAtt`` of a key in the app."""
    kms_key_id = _resolve(node, node.kms_key_id)
    return _compliance(kms_key_id is not None and kms_key_id != "")


def _namespace_exports_all_logs(node: Any) -> NagRuleCompliance:
    """RSS2: only literal log type names count; an intrinsic list cannot be shown to be complete."""
    log_exports = _resolve(node, node.log_exports)
    if not isinstance(log_exports, list):
        return NagRuleCompliance.NON_COMPLIANT
    exported = {item for item in log_exports if isinstance(item, str)}
    return _compliance(exported >= REQUIRED_LOG_EXPORTS)


def _namespace_manages_admin_password(node: Any) -> NagRuleCompliance:
    """RSS3: the admin secret must be Secrets Manager-managed and no literal password may be passed."""
    manage = _resolve(node, node.manage_admin_password)
    password = _resolve(node, node.admin_user_password)
    return _compliance(_is_true(manage) and password is None)


def _workgroup_not_public(node: Any) -> NagRuleCompliance:
    """RSS4: absent means private (the CloudFormation default); an unresolvable intrinsic is reported."""
    return _compliance(_is_false_or_absent(_resolve(node, node.publicly_accessible)))


def _workgroup_requires_ssl(node: Any) -> NagRuleCompliance:
    """RSS5: ``require_ssl`` must be explicitly true."""
    return _compliance(_config_parameter_is_true(node, "require_ssl"))


def _workgroup_logs_user_activity(node: Any) -> NagRuleCompliance:
    """RSS6: ``enable_user_activity_logging`` must be explicitly true."""
    return _compliance(_config_parameter_is_true(node, "enable_user_activity_logging"))


@dataclass(frozen=True)
class _RuleSpec:
    """One rule's identity, wording and check, kept together so ids and messages cannot drift."""

    rule_id: str
    info: str
    explanation: str
    check: Callable[[Any], NagRuleCompliance]

    @property
    def suffix(self) -> str:
        """The part after ``<pack>-``; cdk-nag prefixes the pack name itself."""
        return self.rule_id.removeprefix(f"{PACK_NAME}-")


_NAMESPACE_RULES: tuple[_RuleSpec, ...] = (
    _RuleSpec(
        RSS1_NAMESPACE_CMK,
        "The Redshift Serverless namespace is not encrypted with a customer-managed KMS key.",
        "With the default AWS-owned key, access to the data cannot be audited or revoked through a key "
        "policy and the key cannot be disabled in an incident. Set kms_key_id to a customer-managed key "
        "(for example key.key_arn) with rotation enabled.",
        _namespace_has_cmk,
    ),
    _RuleSpec(
        RSS2_NAMESPACE_LOG_EXPORTS,
        "The Redshift Serverless namespace does not export all of connectionlog, userlog and "
        "useractivitylog to CloudWatch.",
        "Without these logs there is no record of who connected, which users or grants changed and which "
        "queries ran, which incident response and access reviews depend on. Set log_exports to "
        "['connectionlog', 'userlog', 'useractivitylog'] (useractivitylog also needs the workgroup's "
        "enable_user_activity_logging parameter, see RSS6).",
        _namespace_exports_all_logs,
    ),
    _RuleSpec(
        RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD,
        "The Redshift Serverless namespace does not let Secrets Manager manage the admin password.",
        "A password passed as admin_user_password ends up in the template or a parameter, is never rotated "
        "and is readable by anyone who can read the stack. Set manage_admin_password=True (optionally with "
        "admin_password_secret_kms_key_id) and remove admin_user_password.",
        _namespace_manages_admin_password,
    ),
)

_WORKGROUP_RULES: tuple[_RuleSpec, ...] = (
    _RuleSpec(
        RSS4_WORKGROUP_NOT_PUBLIC,
        "The Redshift Serverless workgroup is publicly accessible.",
        "A public endpoint exposes the warehouse to the internet, where only security groups stand between "
        "it and credential-guessing or exploit attempts. Remove publicly_accessible (it defaults to false) "
        "and reach the workgroup through the VPC, a VPN or a Redshift-managed VPC endpoint.",
        _workgroup_not_public,
    ),
    _RuleSpec(
        RSS5_WORKGROUP_REQUIRE_SSL,
        "The Redshift Serverless workgroup does not set the require_ssl config parameter to true.",
        "Without it clients may connect unencrypted, exposing credentials, IAM Identity Center tokens and "
        "query results on the network. Add config parameter require_ssl = 'true' so the setting is explicit "
        "and auditable rather than dependent on a service default.",
        _workgroup_requires_ssl,
    ),
    _RuleSpec(
        RSS6_WORKGROUP_USER_ACTIVITY_LOGGING,
        "The Redshift Serverless workgroup does not set the enable_user_activity_logging config parameter "
        "to true.",
        "Without it the useractivitylog stays empty even when exported, so the text of queries run by each "
        "user is not recorded for audit. Add config parameter enable_user_activity_logging = 'true'.",
        _workgroup_logs_user_activity,
    ),
)


@jsii.implements(IApplyRule)
class _Rule:
    """One rule application handed to ``NagPack._apply_rule``.

    jsii reads the IApplyRule members as properties from the JavaScript side, so they must be
    ``@property`` getters: plain attributes are invisible to it and fail with "Cannot read properties
    of undefined".
    """

    def __init__(self, node: Any, spec: _RuleSpec) -> None:
        self._node = node
        self._spec = spec

    @property
    def node(self) -> Any:
        """The CfnResource under check."""
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        """The suffix cdk-nag appends to the pack name to form the reported rule id."""
        return self._spec.suffix

    @property
    def info(self) -> str:
        """What is wrong, shown in the report."""
        return self._spec.info

    @property
    def explanation(self) -> str:
        """Why it matters and how to fix it, shown when the pack is verbose."""
        return self._spec.explanation

    @property
    def level(self) -> NagMessageLevel:
        """Every rule of this pack blocks synthesis."""
        return NagMessageLevel.ERROR

    def rule(self, node: Any) -> NagRuleCompliance:
        """Run the check on ``node``."""
        return self._spec.check(node)


class RedshiftServerlessChecks(NagPack):
    """cdk-nag pack checking Redshift Serverless namespaces (RSS1-3) and workgroups (RSS4-6).

    ``verbose=True`` appends each rule's explanation to its report line, which is what a reader
    needs to fix a finding; it is off by default to keep the synth error short.
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        write_suppressions_to_cloud_formation: bool | None = None,
    ) -> None:
        super().__init__(
            scope,
            verbose=verbose,
            write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation,
        )
        # applyRule refuses to run without a pack name; it prefixes every reported rule id.
        self._pack_name = PACK_NAME

    @property
    def name(self) -> str:
        """The plugin name CDK shows in the validation report and uses to namespace acknowledgements."""
        return PACK_NAME

    @jsii.member(jsii_name="checkResource")
    def _check_resource(self, node: Any) -> None:
        """Apply the rules matching the resource's type; every other resource is ignored."""
        if isinstance(node, rss.CfnNamespace):
            specs = _NAMESPACE_RULES
        elif isinstance(node, rss.CfnWorkgroup):
            specs = _WORKGROUP_RULES
        else:
            return
        for spec in specs:
            # _Rule satisfies IApplyRule at runtime (jsii.implements); mypy's protocol check wants
            # settable members, which jsii's read-through properties deliberately are not.
            self._apply_rule(cast(IApplyRule, _Rule(node, spec)))
