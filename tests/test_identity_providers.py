"""Native identity providers (`identity_providers` in the access model): model, planner, reconciler, CDK.

CREATE/ALTER/DROP IDENTITY PROVIDER cannot run inside a transaction block (REDSHIFT_REFERENCE.md 0.1,
3.8, 4): the planner marks them non-transactional, `ledger.steps` sends each alone (create/alter before
every batch, drops after), the fake refuses them inside a batch like Redshift (25001), and the reconciler
submits them with ExecuteStatement. Client secrets are Secrets Manager references: plans show `***`, only
the statement the reconciler sends carries the value.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from botocore.response import StreamingBody
from botocore.stub import Stubber

from redshift_idc.access.model import parse_model
from redshift_idc.cdk.components.access_reconciler import AccessReconciler
from redshift_idc.cli.main import main
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_text import render_for_review
from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    IdentityProvider,
    LedgerEntry,
    Role,
    SchemaPrivilege,
    identity_provider_secret_arns,
)
from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.phases import IDENTITY_PROVIDER_DROP_PHASE, IDENTITY_PROVIDER_PHASE
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.reconcile_handler import is_complete, model_document
from redshift_idc.runtime.secrets import SecretResolver
from tests.fake_redshift import FakeRedshift, RedshiftError, differences, unquote_literal
from tests.test_reconcile_handler import (
    BUCKET,
    DATABASE,
    EARLIER,
    KEY,
    MODEL,
    SECRET_ARN,
    USER,
    WORKGROUP,
    Conversation,
    FakeClock,
    catalog,
    create_role,
    drop_role,
    event,
    ledger_delete,
    ledger_insert,
    stubbed,
    token_of,
)
from tests.test_reconcile_handler import Fence as FenceRow

IDC_APP = "arn:aws:sso::111111111111:application/ssoins-7223ab12cd34ef56/apl-0123456789abcdef"
IDC_ROLE = "arn:aws:iam::111111111111:role/redshift-idc"
AZURE_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:azure-client-AbCdEf"
SECRET = "s3cr3t-Value"
AZURE_PARAMETERS = {"issuer": "https://login.microsoftonline.com/tenant/v2.0", "client_id": "c-123",
                    "audience": ["api://redshift"]}

AWSIDC = IdentityProvider("Corp IdC", "awsidc", "AWSIDC", "", IDC_APP, IDC_ROLE, True)
AZURE = IdentityProvider("Azure AD", "azure", "aad",
                         json.dumps(AZURE_PARAMETERS, sort_keys=True, separators=(",", ":")),
                         secrets=(("client_secret", AZURE_SECRET_ARN, "secret"),))
BASE = [Role("analyst"), SchemaPrivilege("sales", "USAGE", "analyst")]
LEDGER = "m"


def resolve(arn: str, key: str) -> str:
    assert arn == AZURE_SECRET_ARN and key in ("secret", "rotated")
    return SECRET


def state_of(*items: AccessObject) -> AccessState:
    return AccessState.of([*BASE, *items])


def plan_for(fake: FakeRedshift, desired: AccessState, **options: Any) -> Plan:
    return plan(desired, fake.state(), fake.ledger(LEDGER), **options)


def converge(fake: FakeRedshift, desired: AccessState, **options: Any) -> Plan:
    planned = plan_for(fake, desired, **options)
    fake.apply(planned, LEDGER, resolve=resolve)
    assert fake.warnings == []
    return planned


def assert_in_sync(fake: FakeRedshift, desired: AccessState) -> None:
    assert differences(fake.state(), desired) == []
    ledger = fake.ledger(LEDGER)
    assert {(i.KIND, i.key()): i.fingerprint() for i in desired} == ledger
    assert not plan_for(fake, desired)


def fresh(*items: AccessObject) -> FakeRedshift:
    fake = FakeRedshift()
    converge(fake, state_of(*items))
    assert_in_sync(fake, state_of(*items))
    return fake


def idp_sql(planned: Plan) -> list[str]:
    return [s.sql for s in planned.statements if "IDENTITY PROVIDER" in s.sql]


# ---------------------------------------------------------------------------------------------- planner


def test_create_runs_alone_before_every_batch_and_records_the_provider() -> None:
    fake = FakeRedshift()
    desired = state_of(AWSIDC, AZURE)
    planned = converge(fake, desired)
    assert idp_sql(planned) == [
        "CREATE IDENTITY PROVIDER \"Azure AD\" TYPE AZURE NAMESPACE 'aad' PARAMETERS '{\"audience\": "
        "[\"api://redshift\"], \"client_id\": \"c-123\", \"client_secret\": \"***\", \"issuer\": "
        "\"https://login.microsoftonline.com/tenant/v2.0\"}'",
        f"CREATE IDENTITY PROVIDER \"Corp IdC\" TYPE AWSIDC NAMESPACE 'AWSIDC' APPLICATION_ARN '{IDC_APP}' "
        f"IAM_ROLE '{IDC_ROLE}' AUTO_CREATE_ROLES TRUE",
    ]
    cut = steps(planned, LEDGER)
    # Each provider statement alone, its ledger row in the batch right after, then the access batch.
    assert [(s.transactional, s.sqls[0].split(" ")[0]) for s in cut] == [
        (False, "CREATE"), (True, "INSERT"), (False, "CREATE"), (True, "INSERT"), (True, "CREATE")]
    assert all(not s.statement.transactional and s.statement.phase == IDENTITY_PROVIDER_PHASE
               for s in cut if s.statement is not None)
    assert not any("IDENTITY PROVIDER" in sql for batch in fake.committed_batches for sql in batch)
    assert fake.identity_provider("azure ad").parameters == {**AZURE_PARAMETERS, "client_secret": SECRET}
    definition = fake.identity_provider("corp idc")
    assert (definition.type, definition.application_arn, definition.iam_role, definition.auto_create_roles) == (
        "awsidc", IDC_APP, IDC_ROLE, True)
    assert_in_sync(fake, desired)


@pytest.mark.parametrize("change", [str.upper, str.lower], ids=["upper", "lower"])
def test_no_change_plans_nothing(change: Any) -> None:
    fake = fresh(AWSIDC, AZURE)
    same = state_of(dataclasses.replace(AWSIDC, name=change(AWSIDC.name)), dataclasses.replace(AZURE, name=change(
        AZURE.name)))
    assert not plan_for(fake, same)


PARAMETERS_CHANGED = dataclasses.replace(AZURE, parameters=json.dumps({**AZURE_PARAMETERS, "client_id": "c-456"}))


@pytest.mark.parametrize(("before", "after", "expected"), [
    pytest.param(AZURE, PARAMETERS_CHANGED,
                 "ALTER IDENTITY PROVIDER \"Azure AD\" PARAMETERS '{\"audience\": [\"api://redshift\"], \"client_id\": "
                 "\"c-456\", \"client_secret\": \"***\", \"issuer\": \"https://login.microsoftonline.com/tenant/v2.0\"}'",
                 id="parameters"),
    pytest.param(AZURE, dataclasses.replace(AZURE, secrets=(("client_secret", AZURE_SECRET_ARN, "rotated"),)),
                 "ALTER IDENTITY PROVIDER \"Azure AD\" PARAMETERS '{\"audience\": [\"api://redshift\"], \"client_id\": "
                 "\"c-123\", \"client_secret\": \"***\", \"issuer\": \"https://login.microsoftonline.com/tenant/v2.0\"}'",
                 id="secret-reference"),
    pytest.param(AWSIDC, dataclasses.replace(AWSIDC, iam_role=IDC_ROLE + "-v2"),
                 f"ALTER IDENTITY PROVIDER \"Corp IdC\" IAM_ROLE '{IDC_ROLE}-v2'", id="iam-role"),
    pytest.param(AWSIDC, dataclasses.replace(AWSIDC, namespace="corp"),
                 "ALTER IDENTITY PROVIDER \"Corp IdC\" NAMESPACE 'corp'", id="namespace"),
    pytest.param(AWSIDC, dataclasses.replace(AWSIDC, auto_create_roles=None),
                 "ALTER IDENTITY PROVIDER \"Corp IdC\" AUTO_CREATE_ROLES FALSE", id="auto-create-roles-default"),
    pytest.param(AWSIDC, dataclasses.replace(AWSIDC, enabled=False),
                 "ALTER IDENTITY PROVIDER \"Corp IdC\" DISABLE", id="disable"),
])
def test_definition_change_is_one_alter_of_what_changed(before: IdentityProvider, after: IdentityProvider,
                                                        expected: str) -> None:
    fake = fresh(before)
    planned = converge(fake, state_of(after))
    assert planned.sql == [expected]
    [statement] = planned.statements
    assert not statement.transactional and statement.ledger_add == (
        LedgerEntry(after.KIND, after.key(), after.fingerprint()),)
    assert_in_sync(fake, state_of(after))
    if after is PARAMETERS_CHANGED:  # ALTER replaced all parameters, the secret resolved again
        assert fake.identity_provider("azure ad").parameters == {**AZURE_PARAMETERS, "client_id": "c-456",
                                                                 "client_secret": SECRET}


def test_several_changes_alter_together_and_disable_goes_first() -> None:
    fake = fresh(AWSIDC)
    after = dataclasses.replace(AWSIDC, namespace="corp", iam_role=IDC_ROLE + "-v2", enabled=False)
    planned = converge(fake, state_of(after))
    assert planned.sql == ['ALTER IDENTITY PROVIDER "Corp IdC" DISABLE',
                           f"ALTER IDENTITY PROVIDER \"Corp IdC\" NAMESPACE 'corp' IAM_ROLE '{IDC_ROLE}-v2'"]
    assert [bool(s.ledger_add) for s in planned.statements] == [False, True]  # recorded with the last one
    assert_in_sync(fake, state_of(after))
    enabled = converge(fake, state_of(AWSIDC))
    assert enabled.sql == [f"ALTER IDENTITY PROVIDER \"Corp IdC\" NAMESPACE 'AWSIDC' IAM_ROLE '{IDC_ROLE}'",
                           'ALTER IDENTITY PROVIDER "Corp IdC" ENABLE']
    assert_in_sync(fake, state_of(AWSIDC))


def test_disabled_by_hand_is_enabled_again_and_created_disabled_when_asked() -> None:
    fake = fresh(AWSIDC)
    fake.execute('ALTER IDENTITY PROVIDER "Corp IdC" DISABLE')
    assert converge(fake, state_of(AWSIDC)).sql == ['ALTER IDENTITY PROVIDER "Corp IdC" ENABLE']
    assert fake.identity_provider("corp idc").enabled is True
    off = dataclasses.replace(AZURE, enabled=False)
    planned = converge(fake, state_of(AWSIDC, off))
    assert [s.split(" ")[0] for s in planned.sql] == ["CREATE", "ALTER"]
    assert planned.sql[1] == 'ALTER IDENTITY PROVIDER "Azure AD" DISABLE'  # CREATE has no enable flag
    assert_in_sync(fake, state_of(AWSIDC, off))


@pytest.mark.parametrize("after", [
    pytest.param(dataclasses.replace(AWSIDC, application_arn=IDC_APP.replace("apl-0", "apl-1")), id="application"),
    pytest.param(dataclasses.replace(AZURE, name=AWSIDC.name, namespace="AWSIDC"), id="type"),
])
def test_type_or_application_change_replaces_the_provider_before_the_batches(after: IdentityProvider) -> None:
    fake = fresh(AWSIDC)
    desired = AccessState.of([*BASE, Role("new"), after])
    planned = converge(fake, desired)
    assert [s.split(" IDENTITY")[0] for s in idp_sql(planned)] == ["DROP", "CREATE"]
    assert planned.sql[0] == 'DROP IDENTITY PROVIDER "corp idc"' and planned.sql[2] == 'CREATE ROLE "new"'
    assert_in_sync(fake, desired)


def test_removal_drops_after_every_batch_without_cascade() -> None:
    fake = fresh(AWSIDC, AZURE)
    desired = AccessState.of([Role("analyst"), AWSIDC])  # the schema grant and the Azure provider go
    planned = converge(fake, desired)
    assert planned.sql == ['REVOKE USAGE ON SCHEMA "sales" FROM ROLE "analyst"', 'DROP IDENTITY PROVIDER "azure ad"']
    assert planned.statements[-1].phase == IDENTITY_PROVIDER_DROP_PHASE
    cut = steps(planned, LEDGER)
    assert [(s.transactional, s.sqls[0].split(" ")[0]) for s in cut] == [(True, "REVOKE"), (False, "DROP"),
                                                                           (True, "DELETE")]
    assert_in_sync(fake, desired)


def test_cascade_only_when_the_model_opts_in() -> None:
    fake = fresh(AWSIDC)
    assert idp_sql(plan_for(fake, state_of())) == ['DROP IDENTITY PROVIDER "corp idc"']
    converge(fake, state_of(), identity_provider_drop_cascade=True)
    assert fake.history[-2] == 'DROP IDENTITY PROVIDER "corp idc" CASCADE'
    assert_in_sync(fake, state_of())


def test_unmanaged_providers_are_left_alone_even_when_pruning() -> None:
    """A provider the model never created may be the one IdC registered for the namespace: never pruned."""
    fake = fresh()
    fake.execute(f"CREATE IDENTITY PROVIDER \"by hand\" TYPE AWSIDC NAMESPACE 'x' APPLICATION_ARN '{IDC_APP}' "
                 f"IAM_ROLE '{IDC_ROLE}'")
    assert not plan_for(fake, state_of())
    assert not plan_for(fake, state_of(), prune=True).statements
    assert "by hand" in {p.name for p in fake.state() if isinstance(p, IdentityProvider)}


def test_an_existing_provider_the_model_declares_is_set_to_the_model_and_recorded() -> None:
    """Made by hand, or created by the reconciler whose ledger write was then lost: its parameters, IAM role
    and role creation are unknown (the view blanks them), so they are set again; NAMESPACE and ENABLE only
    where the catalog shows a difference."""
    fake = fresh()
    fake.execute(f"CREATE IDENTITY PROVIDER \"corp idc\" TYPE AWSIDC NAMESPACE 'AWSIDC' APPLICATION_ARN '{IDC_APP}' "
                 "IAM_ROLE 'arn:aws:iam::111111111111:role/other'")
    fake.execute("CREATE IDENTITY PROVIDER \"azure ad\" TYPE AZURE NAMESPACE 'old' PARAMETERS '{}'")
    fake.execute('ALTER IDENTITY PROVIDER "azure ad" DISABLE')
    planned = converge(fake, state_of(AWSIDC, AZURE))
    assert [s.replace(IDC_ROLE, "<role>") for s in planned.sql] == [
        "ALTER IDENTITY PROVIDER \"Azure AD\" PARAMETERS '{\"audience\": [\"api://redshift\"], \"client_id\": "
        "\"c-123\", \"client_secret\": \"***\", \"issuer\": \"https://login.microsoftonline.com/tenant/v2.0\"}' "
        "NAMESPACE 'aad' AUTO_CREATE_ROLES TRUE",
        'ALTER IDENTITY PROVIDER "Azure AD" ENABLE',
        "ALTER IDENTITY PROVIDER \"Corp IdC\" IAM_ROLE '<role>' AUTO_CREATE_ROLES TRUE",
    ]
    assert fake.identity_provider("azure ad").parameters == {**AZURE_PARAMETERS, "client_secret": SECRET}
    assert_in_sync(fake, state_of(AWSIDC, AZURE))


# ------------------------------------------------------------------------------------- failure modes


def run_steps(fake: FakeRedshift, planned: Plan, count: int) -> None:
    """Apply only the first `count` steps of a plan (the rest never happened: a failure, a lost write)."""
    for step in steps(planned, LEDGER)[:count]:
        if step.statement is None:
            fake.execute_batch(list(step.sqls))
        else:
            fake.execute(step.statement.executable_sql(resolve))


def test_non_transactional_statements_are_refused_inside_a_batch() -> None:
    fake = fresh()
    planned = plan_for(fake, state_of(AZURE))
    [create] = planned.statements
    with pytest.raises(RedshiftError, match=r"CREATE IDENTITY PROVIDER cannot run inside a transaction block"):
        fake.execute_batch([create.executable_sql(resolve)])
    with pytest.raises(RedshiftError, match="25001"):
        fake.execute_batch(['CREATE ROLE "x"', 'DROP IDENTITY PROVIDER "nope"'])
    assert differences(fake.state(), state_of()) == []  # the whole batch rolled back


@pytest.mark.parametrize(("before", "after"), [
    pytest.param((), (AZURE,), id="create"),
    pytest.param((AZURE,), (PARAMETERS_CHANGED,), id="alter"),
    pytest.param((AZURE,), (), id="drop"),
])
def test_a_lost_ledger_write_after_the_statement_heals_on_the_next_round(before: tuple[IdentityProvider, ...],
                                                                         after: tuple[IdentityProvider, ...]) -> None:
    """DDL first, its ledger row second: if the second never happens, the next plan re-derives from the catalog
    (created: set again and recorded; altered: altered again; dropped: its row forgotten)."""
    fake = fresh(*before)
    desired = state_of(*after)
    planned = plan_for(fake, desired)
    run_steps(fake, planned, 1)  # the statement committed, its ledger batch did not
    again = plan_for(fake, desired)
    assert again
    fake.apply(again, LEDGER, resolve=resolve)
    assert_in_sync(fake, desired)


def test_a_failed_statement_changes_nothing_and_the_next_round_retries_it() -> None:
    fake = fresh()
    fake.fail_when = lambda sql: sql.startswith("CREATE IDENTITY PROVIDER")
    with pytest.raises(RedshiftError, match="injected"):
        converge(fake, state_of(AZURE, Role("new")))
    assert fake.ledger(LEDGER) == {(i.KIND, i.key()): i.fingerprint() for i in state_of()}
    fake.fail_when = None
    converge(fake, state_of(AZURE, Role("new")))
    assert_in_sync(fake, state_of(AZURE, Role("new")))


# --------------------------------------------------------------------------------------------- secrets


def test_plans_mask_the_secret_and_only_the_executed_sql_carries_it() -> None:
    planned = plan(state_of(AZURE), AccessState())
    [create] = [s for s in planned.statements if not s.transactional]
    assert '"client_secret": "***"' in create.sql and SECRET not in create.sql
    assert create.secrets == ((AZURE_SECRET_ARN, "secret"),)
    executed = create.executable_sql(resolve)
    assert executed == create.sql.replace('"***"', f'"{SECRET}"')
    with pytest.raises(ValueError, match="needs its secrets resolved"):
        create.executable_sql()
    text = render_for_review(planned, [])
    assert "-- create, alter or replace identity providers" in text and '"client_secret": "***"' in text
    assert SECRET not in text and SECRET not in repr(planned)


def test_an_awkward_secret_survives_json_and_sql_escaping() -> None:
    awkward = "it's a \\ \"secret\" été"
    fake = FakeRedshift()
    fake.apply(plan(state_of(AZURE), fake.state()), LEDGER, resolve=lambda arn, key: awkward)
    assert fake.identity_provider("azure ad").parameters["client_secret"] == awkward  # type: ignore[index]
    sent = [sql for sql in fake.history if sql.startswith("CREATE IDENTITY PROVIDER")]
    literal = sent[0].split(" PARAMETERS ", 1)[1]
    assert json.loads(unquote_literal(literal))["client_secret"] == awkward


def test_the_plan_command_masks_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m redshift_idc plan` never reads a secret: the model has references only, the output `***`."""
    compiled = parse_model({**model_data(), "roles": {"plain": ["analyst"]}}, name="idp",
                           source=Path("access/idp.yaml"))
    monkeypatch.setattr("redshift_idc.access.checked.model_for", lambda config, given=None: compiled)

    def refuse(*_: Any) -> str:
        raise AssertionError("the plan command must not read secrets")

    monkeypatch.setattr(SecretResolver, "__call__", refuse)
    assert main(["plan", "--env", "demo"]) == 0
    out = capsys.readouterr().out
    assert '"client_secret": "***"' in out and 'CREATE IDENTITY PROVIDER "corp azure" TYPE AZURE' in out
    assert out.index("CREATE IDENTITY PROVIDER") < out.index('CREATE ROLE "analyst"')


# ----------------------------------------------------------------------------------------------- model

SOURCE = Path("access/test.yaml")


def model_data() -> dict[str, Any]:
    return {
        "identity_providers": [
            {"name": "corp idc", "type": "AWSIDC", "namespace": "AWSIDC", "application_arn": IDC_APP,
             "iam_role": IDC_ROLE, "auto_create_roles": False},
            {"name": "corp azure", "type": "azure", "namespace": "aad", "parameters": dict(AZURE_PARAMETERS),
             "client_secret_from": f"secretsmanager:{AZURE_SECRET_ARN}:secret", "enabled": False},
        ],
    }


def compile_data(data: dict[str, Any]) -> AccessState:
    return parse_model(data, name="test", source=SOURCE).desired


def test_model_compiles_providers_with_secret_references_only() -> None:
    state = compile_data(model_data())
    providers = {p.name: p for p in state.of_kind(IdentityProvider.KIND).values() if isinstance(p, IdentityProvider)}
    assert providers["corp idc"] == IdentityProvider("corp idc", "awsidc", "AWSIDC", "", IDC_APP, IDC_ROLE, False)
    azure = providers["corp azure"]
    assert json.loads(azure.parameters) == AZURE_PARAMETERS and azure.enabled is False
    assert azure.secrets == (("client_secret", AZURE_SECRET_ARN, "secret"),)
    assert identity_provider_secret_arns(state) == (AZURE_SECRET_ARN,)
    assert AccessState.from_json(json.loads(state.canonical_json())).canonical_json() == state.canonical_json()
    whole = compile_data({"identity_providers": [{**model_data()["identity_providers"][1],
                                                  "client_secret_from": f"secretsmanager:{AZURE_SECRET_ARN}"}]})
    assert [p.secrets for p in whole.of_kind(IdentityProvider.KIND).values()] == [  # type: ignore[attr-defined]
        (("client_secret", AZURE_SECRET_ARN, ""),)]


def change(index: int, **values: Any) -> dict[str, Any]:
    data = model_data()
    data["identity_providers"][index].update(values)
    for key, value in values.items():
        if value is None:
            del data["identity_providers"][index][key]
    return data


@pytest.mark.parametrize(("data", "where", "expected"), [
    (change(0, application_arn=None), "identity_providers[0].application_arn", "required for type awsidc"),
    (change(0, iam_role=None), "identity_providers[0].iam_role", "required for type awsidc"),
    (change(0, application_arn="arn:aws:redshift:us-east-1:111111111111:redshiftidcapplication:x"),
     "identity_providers[0].application_arn", "not an IdC managed application ARN"),
    (change(0, iam_role="MyRole"), "identity_providers[0].iam_role", "not an IAM role ARN"),
    (change(0, parameters={"a": 1}), "identity_providers[0].parameters", "type awsidc takes no PARAMETERS"),
    (change(1, parameters=None), "identity_providers[1].parameters", "required for type azure"),
    (change(1, iam_role=IDC_ROLE), "identity_providers[1].iam_role", "only for type awsidc"),
    (change(1, client_secret_from="arn:aws:secretsmanager:us-east-1:111111111111:secret:x"),
     "identity_providers[1].client_secret_from", "is not secretsmanager:<secret ARN>"),
    (change(1, name="Corp IdC"), "identity_providers[1].name", "duplicate identity provider 'Corp IdC'"),
    (change(1, name="tab\there"), "identity_providers[1].name", "U+0009"),
    (change(1, namespace="sys"), "identity_providers[1].namespace", "reserved by Redshift"),
    (change(1, parameters={"issuer": "https://x", "when": datetime.date(2025, 1, 1)}),
     "identity_providers[1].parameters", "JSON values only"),
])
def test_model_validation_errors_name_the_field(data: dict[str, Any], where: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        compile_data(data)
    message = str(raised.value)
    assert message.startswith(str(SOURCE)) and f"{where}:" in message and expected in message, message


def test_schema_errors_for_providers() -> None:
    for data, expected in ((change(0, type="okta"), "identity_providers[0].type"),
                           (change(0, namespace="has space"), "identity_providers[0].namespace"),
                           (change(1, client_secret="x"), "identity_providers[1].client_secret: unknown key")):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            compile_data(data)


@pytest.mark.parametrize("parameters", [
    {**AZURE_PARAMETERS, "client_secret": SECRET},
    {**AZURE_PARAMETERS, "Client_Secret": SECRET},
    {**AZURE_PARAMETERS, "nested": [{"client_secret": SECRET}]},
], ids=["literal", "any-case", "nested"])
def test_a_literal_client_secret_is_refused_without_echoing_it(parameters: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as raised:
        compile_data(change(1, parameters=copy.deepcopy(parameters)))
    message = str(raised.value)
    assert "must not be written in the model" in message and "client_secret_from" in message
    assert SECRET not in message


def test_drop_cascade_is_off_unless_set() -> None:
    model = parse_model(model_data(), name="test", source=SOURCE).model
    assert model.identity_provider_drop_cascade is False
    model = parse_model({**model_data(), "identity_provider_drop_cascade": True}, name="test", source=SOURCE).model
    assert model.identity_provider_drop_cascade is True


# --------------------------------------------------------------------------------- reconciler (Stubber)


@dataclass
class Reconcile:
    data: Stubber
    s3_stub: Stubber
    secrets_stub: Stubber
    api: DataApi
    s3: Any
    secretsmanager: Any

    def conversation(self, cfn_event: dict[str, Any]) -> Conversation:
        return Conversation(self.data, token_of(cfn_event))

    def expect_model(self, desired: AccessState) -> None:
        data = model_document(desired, []).encode("utf-8")
        self.s3_stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)),
                                                 "ContentLength": len(data)}, {"Bucket": BUCKET, "Key": KEY})

    def expect_secret(self) -> None:
        self.secrets_stub.add_response("get_secret_value", {
            "ARN": AZURE_SECRET_ARN, "Name": "azure-client", "SecretString": json.dumps({"secret": SECRET})},
            {"SecretId": AZURE_SECRET_ARN})

    def run(self, cfn_event: dict[str, Any], clock: FakeClock | None = None) -> dict[str, Any]:
        return is_complete(cfn_event, api=self.api, s3=self.s3, clock=clock or FakeClock(),
                           secretsmanager=self.secretsmanager)


@pytest.fixture
def reconcile() -> Iterator[Reconcile]:
    data_client, data = stubbed("redshift-data")
    s3, s3_stub = stubbed("s3")
    secretsmanager, secrets_stub = stubbed("secretsmanager")
    with data, s3_stub, secrets_stub:
        api = DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), data_client, long_polling=False)  # polls, as there
        yield Reconcile(data, s3_stub, secrets_stub, api, s3, secretsmanager)
        data.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
        secrets_stub.assert_no_pending_responses()


AZURE_CREATE = ("CREATE IDENTITY PROVIDER \"Azure AD\" TYPE AZURE NAMESPACE 'aad' PARAMETERS '{\"audience\": "
                "[\"api://redshift\"], \"client_id\": \"c-123\", \"client_secret\": \"" + SECRET + "\", \"issuer\": "
                "\"https://login.microsoftonline.com/tenant/v2.0\"}'")
LEDGER_TABLE = LedgerTables()


def idp_ledger_insert() -> str:
    return LEDGER_TABLE.insert_sql(MODEL, [LedgerEntry(AZURE.KIND, AZURE.key(), AZURE.fingerprint())])


AZURE_SHOWN = AZURE_CREATE.replace(SECRET, "***")  # what the step shows: its ClientToken's digest, logs


def rows_with_idp(roles: list[str], managed_roles: list[str], *, managed_idp: bool, present: bool,
                  superuser: bool = True, fence: FenceRow | None = None) -> dict[str, list[tuple[Any, ...]]]:
    rows = catalog(roles, managed_roles, fence=fence or (EARLIER, 1))
    rows["whoami"] = [(USER, superuser, 1, "dev")]
    if present:  # listed by its definition, as SVV_IDENTITY_PROVIDERS shows it (the secret's value left out)
        fake = FakeRedshift()
        fake.execute(AZURE_CREATE)
        rows["identity_provider_definitions"] = fake.definition_rows()["identity_provider_definitions"]
    if managed_idp:
        rows["ledger"].append((AZURE.KIND, json.dumps(["azure ad"]), AZURE.fingerprint()))
    return rows


def test_reconciler_creates_the_provider_with_execute_statement_before_the_batch(
        reconcile: Reconcile, caplog: pytest.LogCaptureFixture) -> None:
    create = event("Create")
    desired = AccessState.of([Role("analyst"), AZURE])
    talk = reconcile.conversation(create)
    reconcile.expect_model(desired)
    talk.read(rows_with_idp([], [], managed_idp=False, present=False), seq=1)
    talk.claim((EARLIER, 1))
    reconcile.expect_secret()  # read just before the one statement that carries it
    talk.intent(seq=1)  # announced (fenced): a later request waits for it
    talk.execute(AZURE_CREATE, seq=2, shown=AZURE_SHOWN)  # alone, outside a transaction: no fence can go with it
    talk.apply([idp_ledger_insert()], seq=3, after=1)  # its ledger row, right after it
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=4)
    talk.read(rows_with_idp(["analyst"], ["analyst"], managed_idp=True, present=True, fence=(talk.token, 4)), seq=5)
    with caplog.at_level(logging.INFO):
        assert reconcile.run(create) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert SECRET not in caplog.text and "outside a transaction" in caplog.text


def test_reconciler_drops_the_provider_alone_after_the_batches(reconcile: Reconcile) -> None:
    delete = event("Delete")
    talk = reconcile.conversation(delete)
    talk.read(rows_with_idp(["analyst"], ["analyst"], managed_idp=True, present=True), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply([drop_role("analyst"), ledger_delete("analyst")], seq=1)
    talk.intent(seq=2)
    talk.execute('DROP IDENTITY PROVIDER "azure ad"', seq=3)  # no CASCADE: the resource does not opt in
    talk.apply([LEDGER_TABLE.delete_sql(MODEL, [LedgerEntry(AZURE.KIND, AZURE.key())])], seq=4, after=2)
    talk.read(rows_with_idp([], [], managed_idp=False, present=False, fence=(talk.token, 4)), seq=5)
    assert reconcile.run(delete) == {"IsComplete": True, "Data": {"Result": "in sync"}}


def test_reconciler_drops_with_cascade_when_the_resource_says_so(reconcile: Reconcile) -> None:
    delete = event("Delete", IdentityProviderDropCascade="true")
    talk = reconcile.conversation(delete)
    talk.read(rows_with_idp([], [], managed_idp=True, present=True), seq=1)
    talk.claim((EARLIER, 1))
    talk.intent(seq=1)
    talk.execute('DROP IDENTITY PROVIDER "azure ad" CASCADE', seq=2)
    talk.apply([LEDGER_TABLE.delete_sql(MODEL, [LedgerEntry(AZURE.KIND, AZURE.key())])], seq=3, after=1)
    talk.read(rows_with_idp([], [], managed_idp=False, present=False, fence=(talk.token, 3)), seq=4)
    assert reconcile.run(delete)["IsComplete"] is True


def test_a_failed_provider_statement_is_reported_without_the_secret(reconcile: Reconcile) -> None:
    update = event("Update")
    talk = reconcile.conversation(update)
    reconcile.expect_model(AccessState.of([AZURE]))
    talk.read(rows_with_idp([], [], managed_idp=False, present=False), seq=1)
    talk.claim((EARLIER, 1))
    reconcile.expect_secret()
    talk.intent(seq=1)
    talk.execute(AZURE_CREATE, seq=2, shown=AZURE_SHOWN, status="FAILED",
                 error=f'ERROR: invalid issuer in {{"client_secret": "{SECRET}", "issuer": "x"}}')
    with pytest.raises(CustomResourceError) as raised:
        reconcile.run(update)
    message = str(raised.value)
    assert "statement 00002 (alone, outside a transaction) failed" in message
    assert "CREATE IDENTITY PROVIDER" in message and "invalid issuer" in message
    assert SECRET not in message


def test_a_resolved_secret_is_masked_wherever_an_error_quotes_it(reconcile: Reconcile) -> None:
    """Redshift's error quotes the bare value, outside any literal or JSON: it is masked too."""
    update = event("Update")
    talk = reconcile.conversation(update)
    reconcile.expect_model(AccessState.of([AZURE]))
    talk.read(rows_with_idp([], [], managed_idp=False, present=False), seq=1)
    talk.claim((EARLIER, 1))
    reconcile.expect_secret()
    talk.intent(seq=1)
    talk.execute(AZURE_CREATE, seq=2, shown=AZURE_SHOWN, status="FAILED",
                 error=f"ERROR: client secret {SECRET} was rejected")
    with pytest.raises(CustomResourceError) as raised:
        reconcile.run(update)
    assert SECRET not in str(raised.value) and "client secret *** was rejected" in str(raised.value)


def test_literals_are_masked_and_quoted_names_are_not_literals() -> None:
    from redshift_idc.runtime.data_api import redact_literals

    sql = """CREATE RLS POLICY "o'x" WITH (r VARCHAR(9)) USING (r = 'secret' AND "it''s" = 'x''y')"""
    assert redact_literals(sql) == ("""CREATE RLS POLICY "o'x" WITH (r VARCHAR(9)) USING (r = '***' AND "it''s" = """
                                    "'***')")
    assert redact_literals("value hunter2 in 'hunter2'", ["hunter2"]) == "value *** in '***'"


@pytest.mark.parametrize(("error", "shown"), [
    ('ERROR: syntax error at or near "\'Europe%\'"', 'ERROR: syntax error at or near "\'***\'"'),
    ('ERROR: syntax error at or near "\'it\'\'s EMEA\'" at position 40',
     'ERROR: syntax error at or near "\'***\'" at position 40'),
    ('ERROR: invalid input syntax at "= \'EMEA-42\' OR" in "region_only"',
     'ERROR: invalid input syntax at "= \'***\' OR" in "region_only"'),
    # Quoted names stay as they are, with or without a ' inside them.
    ('ERROR: column "region" does not exist in relation "sales"."orders"',
     'ERROR: column "region" does not exist in relation "sales"."orders"'),
    ('ERROR: role "o\'brien" does not exist; policy "it\'\'s" not found',
     'ERROR: role "o\'brien" does not exist; policy "it\'\'s" not found'),
])
def test_a_literal_an_error_quotes_in_double_quotes_is_masked_too(error: str, shown: str) -> None:
    from redshift_idc.runtime.data_api import redact_literals

    assert redact_literals(error) == shown


def test_providers_are_not_planned_by_a_user_who_cannot_see_them(reconcile: Reconcile) -> None:
    update = event("Update")
    talk = reconcile.conversation(update)
    reconcile.expect_model(AccessState.of([AZURE]))
    talk.read(rows_with_idp([], [], managed_idp=False, present=False, superuser=False), seq=1)
    talk.claim((EARLIER, 1))
    with pytest.raises(CustomResourceError, match=r"user admin is not a superuser"):
        reconcile.run(update)


def test_a_provider_statement_that_commits_without_effect_twice_stops_the_loop(reconcile: Reconcile) -> None:
    update = event("Update")
    talk = reconcile.conversation(update)
    reconcile.expect_model(AccessState.of([AZURE]))
    replace_row = [LEDGER_TABLE.delete_sql(MODEL, [LedgerEntry(AZURE.KIND, AZURE.key())]), idp_ledger_insert()]
    for round_ in range(2):
        seq = 3 * round_ + 1
        talk.read(rows_with_idp([], [], managed_idp=True, present=False,
                                fence=(talk.token, seq - 1) if round_ else None), seq=seq)
        if round_ == 0:
            talk.claim((EARLIER, 1))
            reconcile.expect_secret()  # read once per invocation
        talk.intent(seq=seq)
        talk.execute(AZURE_CREATE, seq=seq + 1, shown=AZURE_SHOWN)
        talk.apply(replace_row, seq=seq + 2, after=seq)
    talk.read(rows_with_idp([], [], managed_idp=True, present=False, fence=(talk.token, 6)), seq=7)
    with pytest.raises(CustomResourceError, match=r"same batch committed twice.*CREATE IDENTITY PROVIDER"):
        reconcile.run(update)


def test_secret_errors_name_the_secret_not_its_value() -> None:
    client, stub = stubbed("secretsmanager")
    with stub:
        stub.add_response("get_secret_value", {"ARN": AZURE_SECRET_ARN, "SecretString": json.dumps({"other": SECRET})},
                          {"SecretId": AZURE_SECRET_ARN})
        stub.add_client_error("get_secret_value", "AccessDeniedException", "not authorized", http_status_code=400)
        resolver = SecretResolver(client)
        with pytest.raises(Exception, match=r"has no key 'secret'") as raised:
            resolver(AZURE_SECRET_ARN, "secret")
        assert SECRET not in str(raised.value)
        with pytest.raises(Exception, match=r"AccessDeniedException reading .*other"):
            resolver(AZURE_SECRET_ARN.replace("azure-client", "other"), "secret")


# ------------------------------------------------------------------------------------------------- CDK


def test_the_reconciler_role_may_read_exactly_the_referenced_secrets() -> None:
    app = App()
    stack = Stack(app, "Access")
    desired = AccessState.of([Role("analyst"), AWSIDC, AZURE])
    AccessReconciler(
        stack, "AccessModel", model_name="idp", desired=desired, scripts=[], prune=False, ledger_schema="redshift_idc",
        removal_policy="destroy", workgroup_name=WORKGROUP,
        workgroup_arn="arn:aws:redshift-serverless:us-east-1:111111111111:workgroup/x", namespace_name="analytics",
        namespace_arn="arn:aws:redshift-serverless:us-east-1:111111111111:namespace/x", database=DATABASE,
        admin_secret_arn=SECRET_ARN, key=kms.Key(stack, "Key"), log_retention=logs.RetentionDays.ONE_WEEK,
        identity_provider_drop_cascade=True)
    template = Template.from_stack(stack).to_json()
    statements = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                  for s in r["Properties"]["PolicyDocument"]["Statement"]
                  if s["Action"] == "secretsmanager:GetSecretValue"]
    assert [s["Resource"] for s in statements] == [[SECRET_ARN, AZURE_SECRET_ARN]]
    [resource] = [r for r in template["Resources"].values() if r["Type"] == "Custom::AccessModel"]
    assert resource["Properties"]["IdentityProviderDropCascade"] is True
    # The asset (the compiled model) holds the reference, never a secret value.
    assert AZURE_SECRET_ARN in model_document(desired, []) and SECRET not in model_document(desired, [])
