"""Redshift's stored forms, as AWS documents them, through the decoders of `runtime/catalog_import.py`, `import`
and adoption (issue 21, contradictions 1 and 5).

The rows below are copied from the AWS Database Developer Guide's examples (the page is named beside each);
the flows feed them to the snapshot reader in place of the fake's own rendering, so they test what Redshift
returns, not what the fake believes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access.importer.command import WRITTEN
from redshift_idc.deployed.snapshot import load_snapshot
from redshift_idc.runtime.access_state import AccessState, IdentityProvider, MaskingAttachment, MaskingPolicy, Role
from redshift_idc.runtime.catalog_import import (
    masking_definition,
    parse_params,
    provider_definition,
    provider_parameters,
    rls_definition,
    stored_texts,
    unwrap_literal_casts,
)
from redshift_idc.runtime.planner import plan
from tests.fake_redshift import FakeRedshift
from tests.test_import_model import compiled, root, run_import, take_snapshot

__all__ = ["root"]  # the fixture, used by name

# r_SHOW_POLICIES, "SHOW MASKING POLICIES FROM DATABASE": policy_name, input_columns, policy_expression.
SHOW_MASKING_ROWS = [
    ("hash_credit", '[{"colname":"credit_card","type":"character varying(256)"}]',
     '[{"expr":"SHA2((\\"masked_table\\".\\"credit_card\\" + CAST(\'testSalt\' AS TEXT)), CAST(256 AS INT4))",'
     '"type":"text"}]'),
    ("hash_username", '[{"colname":"username","type":"character varying(256)"}]',
     '[{"expr":"SHA2((\\"masked_table\\".\\"username\\" + CAST(\'otherTestSalt\' AS TEXT)), CAST(256 AS INT4))",'
     '"type":"text"}]'),
]
# r_SHOW_POLICIES, "SHOW RLS POLICIES": policy_name, policy_alias, policy_atts, policy_qual.
SHOW_RLS_ROW = ("policy_america", "rls_table", '[{"colname":"region","type":"character varying(10)"}]',
                "((\"rls_table\".\"region\" = CAST('USA' AS TEXT)) OR (\"rls_table\".\"region\" = CAST('CANADA' AS "
                "TEXT)) OR (\"rls_table\".\"region\" = CAST('Mexico' AS TEXT)))")
# r_SVV_RLS_POLICY: WITH (c varchar(10)) AS t USING (c LIKE '%public%'), as stored.
SVV_RLS_ROW = ("policy_concerts", "t", '[{"colname":"c","type":"character varying(10)"}]',
               "\"t\".\"c\" LIKE CAST('%public%' AS TEXT)")
# r_SVV_IDENTITY_PROVIDERS, the sample query's row: name, type, instanceid, namespc, params, enabled (the view's
# order; the definition query reads name, type, namespc, params, enabled, instanceid).
SVV_IDP = ("rs5517_azure_idp", "azure", "e40d4bb2-7670-44ae-bfb8-5db013221d73", "abc",
           '{"issuer":"https://login.microsoftonline.com/e40d4bb2-7670-44ae-bfb8-5db013221d73/v2.0", '
           '"client_id":"871c010f-5e61-4fb1-83ac-98610a7e9110", "client_secret":, '
           '"audience":["https://analysis.windows.net/powerbi/connector/AmazonRedshift", '
           '"https://analysis.windows.net/powerbi/connector/AWSRDS"]}', "t")
SVV_IDP_ROW = (SVV_IDP[0], SVV_IDP[1], SVV_IDP[3], SVV_IDP[4], SVV_IDP[5], SVV_IDP[2])
SVV_IDP_PARAMETERS = {
    "issuer": "https://login.microsoftonline.com/e40d4bb2-7670-44ae-bfb8-5db013221d73/v2.0",
    "client_id": "871c010f-5e61-4fb1-83ac-98610a7e9110",
    "audience": ["https://analysis.windows.net/powerbi/connector/AmazonRedshift",
                 "https://analysis.windows.net/powerbi/connector/AWSRDS"]}

HASH_CREDIT = MaskingPolicy("hash_credit", (("credit_card", "character varying(256)"),),
                            "SHA2((\"credit_card\" + 'testSalt'), 256)")


# --- the decoders --------------------------------------------------------------------------------------------


def test_the_documented_masking_rows_decode_to_the_text_a_model_writes() -> None:
    assert [masking_definition(row) for row in SHOW_MASKING_ROWS] == [
        HASH_CREDIT,
        MaskingPolicy("hash_username", (("username", "character varying(256)"),),
                      "SHA2((\"username\" + 'otherTestSalt'), 256)")]


def test_the_documented_rls_rows_decode_with_the_same_decoder() -> None:
    america, concerts = rls_definition(SHOW_RLS_ROW), rls_definition(SVV_RLS_ROW)
    assert america is not None and concerts is not None
    assert america.using == "((\"region\" = 'USA') OR (\"region\" = 'CANADA') OR (\"region\" = 'Mexico'))"
    assert concerts.using == "\"c\" LIKE '%public%'"
    assert rls_definition((*SHOW_RLS_ROW[:1], "", *SHOW_RLS_ROW[2:])) == america  # no alias: rls_table (assumed)


def test_a_masking_policy_with_several_outputs_joins_them_as_its_using_tuple() -> None:
    row = ("two", '[{"colname":"a","type":"integer"},{"colname":"b","type":"text"}]',
           '[{"expr":"(\\"masked_table\\".\\"a\\" * CAST(0 AS INT4))","type":"int4"},'
           '{"expr":"CAST(\'x\' AS TEXT)","type":"text"}]')
    assert masking_definition(row) == MaskingPolicy("two", (("a", "integer"), ("b", "text")), "(\"a\" * 0), 'x'")


@pytest.mark.parametrize(("stored", "expected"), [
    ("[]", None), ('[{"type":"text"}]', None), ('[{"expr":""}]', None), ("", None),  # unreadable: never guessed
    ("\"masked_table\".\"c\"", "\"c\""),  # plain text (an older shape): the expression itself
    ('[{"expr":"\\"other\\".\\"c\\" || \\"masked_table\\".\\"d\\""}]', "\"other\".\"c\" || \"masked_table\".\"d\""),
])
def test_masking_expressions_other_shapes(stored: str, expected: str | None) -> None:
    policy = masking_definition(("p", '[{"colname":"c","type":"text"}]', stored))
    assert (policy.using if policy is not None else None) == expected


@pytest.mark.parametrize(("stored", "expected"), [
    ("CAST('a''b' AS TEXT) || CAST('c\\'d' AS text)", "'a''b' || 'c\\'d'"),
    ("CAST('5' AS INT4) = CAST(5 AS TEXT)", "CAST('5' AS INT4) = CAST(5 AS TEXT)"),  # not a literal's own type
    ("CAST(7 AS INT8) + CAST(3000000000 AS INT8) + CAST(3000000000 AS INT4)", "CAST(7 AS INT8) + 3000000000 + "
     "CAST(3000000000 AS INT4)"),
    ("'CAST(''x'' AS TEXT)' || \"CAST('y' AS TEXT)\"", "'CAST(''x'' AS TEXT)' || \"CAST('y' AS TEXT)\""),  # copied
    ("CAST(CAST('x' AS TEXT) AS VARCHAR(3))", "CAST('x' AS VARCHAR(3))"),  # a person's cast stays
    ("my_CAST('x' AS TEXT)", "my_CAST('x' AS TEXT)"),
])
def test_unwrap_literal_casts_takes_off_only_what_redshift_adds(stored: str, expected: str) -> None:
    assert unwrap_literal_casts(stored) == expected


def test_the_documented_provider_params_are_read_without_the_blanked_secret() -> None:
    assert parse_params(SVV_IDP[4]) == ({**SVV_IDP_PARAMETERS, "client_secret": None}, frozenset({"client_secret"}))
    assert provider_parameters(SVV_IDP[4]) == (SVV_IDP_PARAMETERS, True)
    provider = provider_definition(SVV_IDP_ROW)
    assert provider is not None and (provider.type, provider.namespace, provider.enabled) == ("azure", "abc", True)
    assert json.loads(provider.parameters) == SVV_IDP_PARAMETERS
    # an older snapshot's row, without instanceid
    assert provider_definition(SVV_IDP_ROW[:5]) == provider


@pytest.mark.parametrize("params", [
    '{"client_id":, "client_secret":"x"}',  # a value that is no secret left out: unknown, so unreadable
    '{"issuer": "https://x", client_secret: hunter2}', "[1]", "not json at all hunter2",
])
def test_params_that_cannot_be_read_are_none_and_never_echoed(params: str) -> None:
    assert provider_parameters(params) == (None, False)
    assert provider_definition(("p", "azure", "ns", params, "t", "tenant")) is None


def test_an_awsidc_providers_application_and_role_are_read() -> None:
    row = ("other-idc", "awsidc", "partner", '{"iam_role":"arn:aws:iam::444444444444:role/idc"}', "t",
           "arn:aws:sso::444444444444:application/ssoins-2/apl-2")
    assert provider_definition(row) == IdentityProvider(
        "other-idc", "awsidc", "partner", "", application_arn="arn:aws:sso::444444444444:application/ssoins-2/apl-2",
        iam_role="arn:aws:iam::444444444444:role/idc", enabled=True)


def test_a_report_shows_a_masking_policys_expr_not_its_json() -> None:
    texts = stored_texts({"masking_policy_definitions": SHOW_MASKING_ROWS[:1]})
    [text] = texts.values()
    assert text.expression == "SHA2((\"masked_table\".\"credit_card\" + CAST('testSalt' AS TEXT)), CAST(256 AS INT4))"


# --- adoption ------------------------------------------------------------------------------------------------


def test_an_unledgered_masking_policy_in_its_documented_stored_form_is_adopted_without_ddl() -> None:
    attachment = MaskingAttachment("hash_credit", "s", "t", ("credit_card",), "r", priority=10)
    desired = AccessState.of([Role("r"), HASH_CREDIT, attachment])
    current = AccessState.of([Role("r"), MaskingPolicy("hash_credit"), attachment])
    definitions = AccessState.of([masking_definition(SHOW_MASKING_ROWS[0])])  # type: ignore[list-item]
    planned = plan(desired, current, {}, definitions=definitions)
    assert planned.statements == []
    assert {e.kind for e in planned.adopt} == {Role.KIND, MaskingPolicy.KIND, MaskingAttachment.KIND}
    # another salt is another policy: altered, never adopted
    other = MaskingPolicy("hash_credit", HASH_CREDIT.columns, "SHA2((\"credit_card\" + 'pepper'), 256)")
    planned = plan(AccessState.of([Role("r"), other, attachment]), current, {}, definitions=definitions)
    assert MaskingPolicy.KIND not in {e.kind for e in planned.adopt} and planned.statements


IDC_APP = "arn:aws:sso::444444444444:application/ssoins-2/apl-2"
IDC_ROLE = "arn:aws:iam::444444444444:role/idc"


@pytest.mark.parametrize(("application", "role", "expected"), [
    (IDC_APP, IDC_ROLE, []),  # what the catalog shows is the model's: adopted
    (IDC_APP, "arn:aws:iam::444444444444:role/other",
     ['ALTER IDENTITY PROVIDER "other-idc" IAM_ROLE \'arn:aws:iam::444444444444:role/other\' AUTO_CREATE_ROLES '
      'FALSE']),  # an unledgered provider: what the catalog does not show (AUTO_CREATE_ROLES) is set too
    ("arn:aws:sso::444444444444:application/ssoins-2/apl-9", IDC_ROLE,
     ['DROP IDENTITY PROVIDER "other-idc"', 'CREATE IDENTITY PROVIDER "other-idc" TYPE AWSIDC NAMESPACE \'partner\' '
      "APPLICATION_ARN 'arn:aws:sso::444444444444:application/ssoins-2/apl-9' IAM_ROLE "
      "'arn:aws:iam::444444444444:role/idc'"]),
])
def test_an_awsidc_provider_whose_application_or_role_differs_is_changed_not_adopted(
        application: str, role: str, expected: list[str]) -> None:
    seen = provider_definition(("other-idc", "awsidc", "partner", json.dumps({"iam_role": IDC_ROLE}), "t", IDC_APP))
    wanted = IdentityProvider("other-idc", "awsidc", "partner", application_arn=application, iam_role=role)
    current = AccessState.of([IdentityProvider("other-idc", "awsidc", "partner", enabled=True)])
    planned = plan(AccessState.of([wanted]), current, {}, definitions=AccessState.of([seen]))  # type: ignore[list-item]
    assert [s.sql for s in planned.statements] == expected
    assert ([e.kind for e in planned.adopt] == [IdentityProvider.KIND]) == (not expected)


# --- import from a snapshot holding the documented rows -------------------------------------------------------


def documented_warehouse(monkeypatch: pytest.MonkeyPatch) -> FakeRedshift:
    """The fake, with the documented examples' objects, answering the definition queries with the documented
    rows themselves."""
    fake = FakeRedshift()
    for sql in ["""CREATE MASKING POLICY "hash_credit" WITH ("credit_card" VARCHAR(256)) """
                """USING (SHA2(credit_card + 'testSalt', 256))""",
                """CREATE MASKING POLICY "hash_username" WITH ("username" VARCHAR(256)) """
                """USING (SHA2(username + 'otherTestSalt', 256))""",
                """CREATE IDENTITY PROVIDER "rs5517_azure_idp" TYPE AZURE NAMESPACE 'abc' PARAMETERS '"""
                + json.dumps({**SVV_IDP_PARAMETERS, "client_secret": "never-in-any-file"}) + "'"]:
        fake.execute(sql)
    own = FakeRedshift.definition_rows

    def documented(self: FakeRedshift, **options: Any) -> dict[str, list[Any]]:
        rows = own(self, **options)
        rows["masking_policy_definitions"] = list(SHOW_MASKING_ROWS)
        rows["identity_provider_definitions"] = [SVV_IDP_ROW] if rows["identity_provider_definitions"] else []
        return rows

    monkeypatch.setattr(FakeRedshift, "definition_rows", documented)
    return fake


def test_import_from_the_documented_rows_writes_decoded_text_and_plans_to_no_ddl(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = documented_warehouse(monkeypatch)
    snapshot_path = root / "catalog.json"
    taken, _ = take_snapshot(fake, snapshot_path)
    assert (taken.code, taken.err) == (0, "")
    assert "never-in-any-file" not in snapshot_path.read_text("utf-8")
    model_path = root / "access" / "imported.yaml"
    result = run_import(snapshot_path, model_path)
    assert result.code == WRITTEN, result.err
    data = yaml.safe_load(model_path.read_text("utf-8"))
    assert [(p["name"], p["with"], p["using"]) for p in data["masking"]["policies"]] == [
        ("hash_credit", {"credit_card": "character varying(256)"}, "SHA2((\"credit_card\" + 'testSalt'), 256)"),
        ("hash_username", {"username": "character varying(256)"}, "SHA2((\"username\" + 'otherTestSalt'), 256)")]
    [provider] = data["identity_providers"]
    assert (provider["name"], provider["type"], provider["namespace"], provider["parameters"]) == (
        "rs5517_azure_idp", "azure", "abc", SVV_IDP_PARAMETERS)
    assert provider["client_secret_from"].endswith(":secret:FILL-IN-rs5517-azure-idp:client_secret")
    _, desired = compiled(model_path)
    snapshot = load_snapshot(snapshot_path)
    planned = plan(desired, snapshot.parsed().state, {}, definitions=snapshot.definitions())
    assert planned.statements == []
    assert {(e.kind, e.key) for e in planned.adopt} == {
        (MaskingPolicy.KIND, ("hash_credit",)), (MaskingPolicy.KIND, ("hash_username",)),
        (IdentityProvider.KIND, ("rs5517_azure_idp",))}
