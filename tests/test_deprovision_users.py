"""Users who left IAM Identity Center (issue 12 item 5): `deprovision_users: true` in the access model.

The identity store is botocore's Stubber (every call checked against the service model, in order, with its
parameters: paging with NextToken, throttling retried, AccessDenied reported), or, for whole deploys driven
like the Provider framework drives them, a small fake whose calls are validated against the same model. The
warehouse is `tests/fake_redshift.py`: Redshift creates an IdC user at its first sign-in (`sign_in`), DROP
USER refuses a user who owns objects or holds privileges.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from redshift_idc.access.model import load_model, parse_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_report import offline_plan
from redshift_idc.review.plan_text import render_for_review
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.catalog import parse_snapshot, read_queries
from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.idc_directory import Assigned, IdcDirectory, Verdict
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.phases import USER_DROP_PHASE, USER_REVOKE_PHASE, USER_TRANSFER_PHASE
from redshift_idc.runtime.reconcile_handler import build_request, is_complete, model_document
from redshift_idc.runtime.users import (
    USER_QUERY_NAMES,
    DeprovisionSettings,
    check_users,
    departures,
    parse_users,
    user_queries,
    with_statements,
)
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import FakeDataApi, FakeS3, ProviderDriver, SimClock, cfn_event, resource_properties, svv_rows
from tests.fake_redshift import FakeRedshift, RedshiftError

STORE = "d-6666666666"
SOURCE = Path("access/people.yaml")
NS = "AWSIDC"
SALES = "a1b2c3d4e5-11111111-2222-3333-4444-555555555555"
EXEC = "a1b2c3d4e5-66666666-7777-8888-9999-000000000000"
OTHER = "a1b2c3d4e5-99999999-8888-7777-6666-555555555555"
ALICE = "f0e1d2c3b4-aaaaaaaa-0000-4000-8000-000000000001"
BOB = "f0e1d2c3b4-bbbbbbbb-0000-4000-8000-000000000002"
MODEL: dict[str, Any] = {
    "roles": {"idc_groups": ["sales", "exec"], "plain": ["custodian"]},
    "deprovision_users": True,
}


# ------------------------------------------------------------------------------------ the model


def compiled(data: dict[str, Any]) -> DeprovisionSettings | None:
    return parse_model(data, name="people", source=SOURCE).deprovision


def test_the_model_opts_in_and_names_who_takes_over() -> None:
    assert compiled({"roles": MODEL["roles"]}) is None  # off by default
    assert compiled(MODEL) == DeprovisionSettings(NS)
    assert compiled({**MODEL, "transfer_ownership_to": "user:admin"}) == DeprovisionSettings(NS, "admin", "user")
    assert compiled({**MODEL, "transfer_ownership_to": "USER:AWSIDC:Keeper"}) == DeprovisionSettings(
        NS, "AWSIDC:Keeper", "user")  # a user name keeps its case (quoted user names do [D51])


@pytest.mark.parametrize(("data", "field", "expected"), [
    ({**MODEL, "transfer_ownership_to": "nobody"}, "transfer_ownership_to",
     "'nobody' does not name a user: Redshift objects are owned by users only"),
    ({"roles": MODEL["roles"], "transfer_ownership_to": "exec"}, "transfer_ownership_to",
     "only with deprovision_users: true"),
    ({**MODEL, "transfer_ownership_to": "PUBLIC"}, "transfer_ownership_to", "PUBLIC cannot own objects"),
    ({**MODEL, "transfer_ownership_to": "user:"}, "transfer_ownership_to", "user name is empty"),
    ({**MODEL, "transfer_ownership_to": "user:sys:x"}, "transfer_ownership_to", "a prefix Redshift reserves"),
    ({**MODEL, "deprovision_users": "sometimes"}, "deprovision_users", "deprovision_users"),
])
def test_bad_input_is_refused_before_deploy_naming_file_and_field(data: dict[str, Any], field: str,
                                                                  expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_model(data, name="people", source=SOURCE)
    message = str(raised.value)
    assert message.startswith(f"{SOURCE}: ") and f"{field}" in message and expected in message, message


@pytest.mark.parametrize("role", ["exec", "Custodian", "sales"])
def test_a_role_of_the_model_cannot_take_over_what_a_departing_user_owns(role: str) -> None:
    """Issue 21, contradiction 4: owners are users. Owner columns hold user ids (r_SVV_DEFAULT_PRIVILEGES:
    owner_type "Possible value is user"), DROP USER's page says to change ownership "to another user"
    (r_DROP_USER), and a group or role named as owner fails with `user "<name>" does not exist`
    (brainly/terraform-provider-redshift issue 142). A role would fail every deploy's batch: refused here, with
    the reason and the fix."""
    with pytest.raises(ConfigError) as raised:
        parse_model({**MODEL, "transfer_ownership_to": role}, name="people", source=SOURCE)
    message = str(raised.value)
    assert message.startswith(f"{SOURCE}: transfer_ownership_to: '{role}' is a role of the model, and a role "
                              "cannot take over what a departing user owns: Redshift objects are owned by users "
                              "only"), message
    assert "name a database user as user:<name>, e.g. user:admin" in message


def test_a_document_naming_a_role_as_the_new_owner_is_refused_at_deploy() -> None:
    """A model document compiled before roles were refused: the reconciler stops before any DDL, with the fix."""
    with pytest.raises(ValueError, match=r"a role cannot own objects in Redshift .* transfer_ownership_to: "
                                         r"user:<name>"):
        DeprovisionSettings.from_json({"namespace": NS,
                                       "transfer_ownership_to": {"name": "AWSIDC:exec", "kind": "role"}})


def test_the_fake_refuses_a_role_as_the_new_owner_as_redshift_does() -> None:
    """brainly/terraform-provider-redshift issue 142: the owner position takes a user; a role is not found."""
    fake = warehouse()
    for sql in ('ALTER TABLE "carol_sandbox"."scratch" OWNER TO "custodian"',
                'ALTER SCHEMA "carol_sandbox" OWNER TO "custodian"'):
        with pytest.raises(RedshiftError, match='user "custodian" does not exist'):
            fake.execute(sql)
    assert set(fake.owners.values()) == {"AWSIDC:carol"}
    fake.execute('ALTER SCHEMA "carol_sandbox" OWNER TO "admin"')
    assert fake.owners[("schema", "carol_sandbox", "")] == "admin"


def test_an_environment_assigning_nobody_cannot_deprovision() -> None:
    """Every IdC user would count as gone."""
    config = load_environment("sample-lakehouse")
    app = config.redshift_idc_application.model_copy(update={"groups": (), "users": ()})
    nobody = config.model_copy(update={"redshift_idc_application": app})
    with pytest.raises(ConfigError, match="deprovision_users: the environment assigns no group and no user"):
        parse_model({"roles": {"plain": ["custodian"]}, "deprovision_users": True}, name="people", source=SOURCE,
                    environment=nobody)


def test_the_lakehouse_sample_deprovisions_and_its_plan_says_so() -> None:
    config = load_environment("sample-lakehouse")
    compiled = load_model("sample-lakehouse", config)
    desired = compiled.desired
    assert compiled.deprovision == DeprovisionSettings("AWSIDC")
    text = offline_plan(config)
    assert '-- deprovision_users: each deploy drops the users "AWSIDC:..." who left IAM Identity Center' in text
    document = json.loads(model_document(desired, [], compiled.deprovision))
    assert document["users"] == {"namespace": "AWSIDC", "transfer_ownership_to": None}
    assert "users" not in json.loads(model_document(desired, []))  # models that do not opt in: unchanged


# --------------------------------------------------------------------------------- the catalog


def test_the_read_appends_its_selects_only_when_asked() -> None:
    tables = LedgerTables()
    plain = read_queries(tables, "m")
    with_users = read_queries(tables, "m", users_namespace=NS)
    assert with_users[:len(plain)] == plain  # the existing batch shape is kept: appended at the end
    assert [name for name, _ in with_users[len(plain):]] == list(USER_QUERY_NAMES)
    assert all(sql.startswith("SELECT ") for _, sql in with_users[len(plain):])
    assert len(with_users) <= 40  # one BatchExecuteStatement
    users = dict(user_queries("AWS_IDC%x"))["idc_users"]
    # LIKE's wildcards in the namespace are escaped (the backslash doubled inside the literal)
    assert users == "SELECT user_name, superuser FROM svv_user_info WHERE user_name ILIKE 'AWS\\\\_IDC\\\\%x:%'"


def test_the_catalog_reader_sees_users_grants_and_owners_as_the_fake_holds_them() -> None:
    fake = FakeRedshift()
    fake.execute('CREATE ROLE "custodian"')
    for user in ("AWSIDC:bob", "awsidc:Carol", "OTHER:dan"):
        fake.sign_in(user)
    fake.sign_in("AWSIDC:root", superuser=True)
    fake.execute('GRANT USAGE ON SCHEMA "sales" TO "AWSIDC:bob"')
    fake.execute('GRANT SELECT FOR TABLES IN SCHEMA "sales" TO "AWSIDC:bob"')
    fake.execute('GRANT UPDATE ("amount") ON TABLE "sales"."orders" TO "AWSIDC:bob"')
    fake.create_owned("awsidc:Carol", "table", "sales", "mine")
    fake.create_owned("awsidc:Carol", "schema", "scratch")
    fake.create_owned("OTHER:dan", "table", "sales", "theirs")
    rows = {**svv_rows(fake.state(), user="admin", superuser=True, secadmin=True), **fake.user_rows(NS)}
    catalog = parse_snapshot(rows, users_namespace=NS).users
    assert catalog is not None
    assert catalog.users == {"AWSIDC:bob": False, "AWSIDC:root": True, "awsidc:Carol": False}
    assert catalog.candidates(exclude=["admin"]) == ["AWSIDC:bob", "awsidc:Carol"]  # never a superuser
    assert [g.describe() for g in catalog.grants["AWSIDC:bob"]] == [
        "UPDATE on column sales.orders.amount", "USAGE on schema sales", "SELECT on tables in schema sales"]
    assert [o.describe() for o in catalog.objects["awsidc:Carol"]] == ["schema scratch", "table sales.mine"]
    assert parse_snapshot(rows).users is None  # not asked: nothing parsed


# ----------------------------------------------------------------------------- the identity store


@pytest.fixture
def store() -> Iterator[tuple[Stubber, Any]]:
    client = boto3.client("identitystore", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield stubber, client
        stubber.assert_no_pending_responses()


def user_arn(user_id: str) -> str:
    return f"arn:aws:identitystore:::user/{user_id}"


def group_arn(group_id: str) -> str:
    return f"arn:aws:identitystore:::group/{group_id}"


def membership_arn(membership_id: str) -> str:
    return f"arn:aws:identitystore::666666666666:identitystore/{STORE}/membership/{membership_id}"


def by_name(name: str) -> dict[str, Any]:
    return {"IdentityStoreId": STORE, "AlternateIdentifier": {"UniqueAttribute": {
        "AttributePath": "userName", "AttributeValue": name}}}


def found(stubber: Stubber, name: str, user_id: str) -> None:
    stubber.add_response("get_user_id", {"IdentityStoreId": STORE, "UserId": user_id, "UserArn": user_arn(user_id)},
                         by_name(name))


def not_found(stubber: Stubber, name: str) -> None:
    stubber.add_client_error("get_user_id", service_error_code="ResourceNotFoundException",
                             service_message="USER not found.", http_status_code=400, expected_params=by_name(name))


def memberships(stubber: Stubber, user_id: str, groups: list[str], *, token: str | None = None,
                next_token: str | None = None) -> None:
    params: dict[str, Any] = {"IdentityStoreId": STORE, "MemberId": {"UserId": user_id}, "MaxResults": 100}
    if token:
        params["NextToken"] = token
    response: dict[str, Any] = {"GroupMemberships": [
        {"IdentityStoreId": STORE, "MembershipId": f"m-{i}", "MembershipArn": membership_arn(f"m-{i}"),
         "GroupId": g, "MemberId": {"UserId": user_id}} for i, g in enumerate(groups)]}
    if next_token:
        response["NextToken"] = next_token
    stubber.add_response("list_group_memberships_for_member", response, params)


def users_page(stubber: Stubber, users: list[tuple[str, str, str]], *, token: str | None = None,
               next_token: str | None = None) -> None:
    params: dict[str, Any] = {"IdentityStoreId": STORE, "MaxResults": 100, **({"NextToken": token} if token else {})}
    response: dict[str, Any] = {"Users": [
        {"IdentityStoreId": STORE, "UserId": uid, "UserArn": user_arn(uid), "Revision": "1", "UserName": name,
         "Emails": [{"Value": email, "Primary": True}]} for uid, name, email in users]}
    if next_token:
        response["NextToken"] = next_token
    stubber.add_response("list_users", response, params)


def throttled(stubber: Stubber, operation: str, params: dict[str, Any]) -> None:
    stubber.add_client_error(operation, service_error_code="ThrottlingException", service_message="Rate exceeded",
                             http_status_code=400, expected_params=params)


def directory(client: Any, sleeps: list[float] | None = None, *, groups: tuple[Assigned, ...] | None = None,
              users: tuple[Assigned, ...] = ()) -> IdcDirectory:
    chosen = groups if groups is not None else (Assigned("sales", SALES), Assigned("exec", EXEC))
    return IdcDirectory(client, STORE, chosen, users, sleep=(sleeps if sleeps is not None else []).append)


def test_a_member_of_an_assigned_group_is_kept_paging_its_memberships(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    found(stubber, "alice@example.com", ALICE)
    memberships(stubber, ALICE, [OTHER], next_token="page-2")
    memberships(stubber, ALICE, [EXEC], token="page-2")
    assert directory(client).verdict("AWSIDC:alice@example.com", "alice@example.com") == Verdict(
        "AWSIDC:alice@example.com", "kept", "member of exec")


def test_a_user_in_no_assigned_group_is_gone(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    found(stubber, "bob", BOB)
    memberships(stubber, BOB, [OTHER])
    verdict = directory(client).verdict("AWSIDC:bob", "bob")
    assert verdict.status == "gone"
    assert verdict.reason == (f"in identity store {STORE}, but in none of the groups the environment assigns "
                              "(exec, sales)")


def test_a_name_the_store_does_not_know_in_any_case_or_as_an_email_is_gone(store: tuple[Stubber, Any]) -> None:
    """Not found as written: every user is listed (paged) once, to match the name case-insensitively, as a
    userName or an email, before the user counts as gone."""
    stubber, client = store
    not_found(stubber, "carol")
    users_page(stubber, [(ALICE, "Alice@Example.com", "alice@example.com")], next_token="more")
    users_page(stubber, [(BOB, "bob", "bob@example.com")], token="more")
    not_found(stubber, "dave")  # the second lookup uses the listing already made
    ask = directory(client)
    assert ask.verdict("AWSIDC:carol", "carol") == Verdict(
        "AWSIDC:carol", "gone", f"no user 'carol' in identity store {STORE} (userName or email, any case)")
    assert ask.verdict("AWSIDC:dave", "dave").status == "gone"


def test_a_name_in_another_case_or_an_email_is_the_same_user(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    not_found(stubber, "alice@example.com")  # Redshift stored it folded; IdC has Alice@Example.com
    users_page(stubber, [(ALICE, "Alice@Example.com", "a.smith@example.com"), (BOB, "bob", "BOB.Jones@Example.com")])
    memberships(stubber, ALICE, [SALES])
    not_found(stubber, "bob.jones@example.com")  # named by email: found in the listing already made
    memberships(stubber, BOB, [SALES])
    ask = directory(client)
    assert ask.verdict("AWSIDC:alice@example.com", "alice@example.com").status == "kept"
    assert ask.verdict("AWSIDC:bob.jones@example.com", "bob.jones@example.com").status == "kept"


def test_a_user_assigned_on_its_own_is_kept_without_asking_its_groups(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    found(stubber, "svc-etl", BOB)
    ask = directory(client, users=(Assigned("SVC-ETL"),))
    assert ask.verdict("AWSIDC:svc-etl", "svc-etl") == Verdict(
        "AWSIDC:svc-etl", "kept", "assigned to the Redshift IdC application on its own")


def test_a_user_assigned_on_its_own_is_recognised_under_another_name(store: tuple[Stubber, Any]) -> None:
    """Config assigns `svc-etl`; Redshift names the user by its email: the ids agree."""
    stubber, client = store
    not_found(stubber, "svc@example.com")
    users_page(stubber, [(BOB, "svc-etl", "svc@example.com")])
    found(stubber, "svc-etl", BOB)  # the assigned user's id, looked up once
    ask = directory(client, users=(Assigned("svc-etl"),))
    assert ask.verdict("AWSIDC:svc@example.com", "svc@example.com").status == "kept"


def test_groups_without_ids_are_resolved_by_name_once(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    stubber.add_response("get_group_id", {"GroupId": SALES, "GroupArn": group_arn(SALES), "IdentityStoreId": STORE}, {
        "IdentityStoreId": STORE, "AlternateIdentifier": {"UniqueAttribute": {
            "AttributePath": "displayName", "AttributeValue": "sales"}}})
    stubber.add_client_error("get_group_id", service_error_code="ResourceNotFoundException",
                             service_message="GROUP not found.", http_status_code=400)
    found(stubber, "alice", ALICE)
    memberships(stubber, ALICE, [SALES])
    found(stubber, "bob", BOB)
    memberships(stubber, BOB, [EXEC])
    ask = directory(client, groups=(Assigned("sales"), Assigned("retired")))
    assert ask.verdict("AWSIDC:alice", "alice").status == "kept"
    assert ask.verdict("AWSIDC:bob", "bob").status == "gone"  # exec is not assigned here
    assert ask.notes == [f"assigned group 'retired' is not in identity store {STORE}: it assigns nobody"]


def test_throttling_is_retried_with_backoff(store: tuple[Stubber, Any]) -> None:
    """botocore's adaptive retries come first (the Stubber bypasses them); throttling that outlasts them is
    tried again here, twice, 1 s and 2 s later."""
    stubber, client = store
    throttled(stubber, "get_user_id", by_name("alice"))
    throttled(stubber, "get_user_id", by_name("alice"))
    found(stubber, "alice", ALICE)
    memberships(stubber, ALICE, [SALES])
    sleeps: list[float] = []
    assert directory(client, sleeps).verdict("AWSIDC:alice", "alice").status == "kept"
    assert sleeps == [1.0, 2.0]


def test_throttling_that_never_ends_leaves_the_user_unchecked_and_kept(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    found(stubber, "bob", BOB)
    params = {"IdentityStoreId": STORE, "MemberId": {"UserId": BOB}, "MaxResults": 100}
    for _ in range(3):
        throttled(stubber, "list_group_memberships_for_member", params)
    verdict = directory(client).verdict("AWSIDC:bob", "bob")
    assert verdict == Verdict("AWSIDC:bob", "unchecked", "identitystore ListGroupMembershipsForMember: "
                                                         "ThrottlingException (after 3 attempts): Rate exceeded")


def test_access_denied_is_reported_and_the_user_never_dropped(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    stubber.add_client_error("get_user_id", service_error_code="AccessDeniedException",
                             service_message="User is not authorized to perform identitystore:GetUserId",
                             http_status_code=400, expected_params=by_name("bob"))
    verdict = directory(client).verdict("AWSIDC:bob", "bob")
    assert verdict.status == "unchecked"
    assert verdict.reason.startswith("identitystore GetUserId: AccessDeniedException: User is not authorized")


def test_groups_that_cannot_be_resolved_leave_every_user_unchecked(store: tuple[Stubber, Any]) -> None:
    stubber, client = store
    stubber.add_client_error("get_group_id", service_error_code="AccessDeniedException", service_message="no",
                             http_status_code=400)
    ask = directory(client, groups=(Assigned("sales"),))
    for name in ("alice", "bob"):
        assert ask.verdict(f"AWSIDC:{name}", name).status == "unchecked"  # asked once, no further call


# ---------------------------------------------------------------------------------------- the plan


class Answers:
    """A directory answering from a table (the planner tests need no identity store)."""

    def __init__(self, **statuses: str) -> None:
        self.statuses = statuses
        self.asked: list[str] = []

    def verdict(self, user: str, name: str) -> Verdict:
        self.asked.append(user)
        status = self.statuses.get(name, "kept")
        return Verdict(user, status, {"gone": "left", "kept": "member of sales"}.get(status, "AccessDenied"))  # type: ignore[arg-type]


def warehouse() -> FakeRedshift:
    fake = FakeRedshift()
    fake.execute('CREATE ROLE "custodian"')
    fake.sign_in("admin")  # the admin user (not of the namespace): what `user:admin` transfers to
    for user in ("AWSIDC:alice", "AWSIDC:bob", "AWSIDC:carol"):
        fake.sign_in(user)
    fake.execute('GRANT USAGE ON SCHEMA "sales" TO "AWSIDC:bob"')
    fake.execute('GRANT SELECT ON TABLE "sales"."orders" TO "AWSIDC:bob"')
    fake.create_owned("AWSIDC:carol", "schema", "carol_sandbox")
    fake.create_owned("AWSIDC:carol", "table", "carol_sandbox", "scratch")
    fake.create_owned("AWSIDC:carol", "view", "sales", "carol_view")
    return fake


def departures_of(fake: FakeRedshift, settings: DeprovisionSettings, answers: Answers) -> Any:
    catalog = parse_users(fake.user_rows(settings.namespace), settings.namespace)
    return check_users(catalog, settings, answers, reader="admin")


def test_create_no_op_change_and_remove() -> None:
    """A user still in IdC is kept; a gone user loses its grants and is dropped; then nothing is left to do."""
    fake = warehouse()
    settings = DeprovisionSettings(NS)
    assert departures_of(fake, settings, Answers()).statements == []  # everyone still in IdC: no-op

    found_ = departures_of(fake, settings, Answers(bob="gone"))
    assert [v.user for v in found_.gone] == ["AWSIDC:bob"] and found_.refused == []
    assert [(s.phase, s.sql) for s in found_.statements] == [
        (USER_REVOKE_PHASE, 'REVOKE USAGE ON SCHEMA "sales" FROM "AWSIDC:bob"'),
        (USER_REVOKE_PHASE, 'REVOKE SELECT ON TABLE "sales"."orders" FROM "AWSIDC:bob"'),
        (USER_DROP_PHASE, 'DROP USER "AWSIDC:bob"'),
    ]
    merged = with_statements(plan(AccessState(), fake.state(), fake.ledger("m")), found_.statements)
    fake.apply(merged, "m")
    assert "AWSIDC:bob" not in fake.users and not fake.user_privileges
    again = Answers(bob="gone")
    assert departures_of(fake, settings, again).statements == [] and "AWSIDC:bob" not in again.asked


def test_a_gone_user_who_owns_objects_is_refused_with_the_list() -> None:
    fake = warehouse()
    found_ = departures_of(fake, DeprovisionSettings(NS), Answers(carol="gone", bob="gone"))
    assert [r.user for r in found_.refused] == ["AWSIDC:carol"]
    assert found_.refused[0].blockers == (
        "owns schema carol_sandbox, table carol_sandbox.scratch, view sales.carol_view",)
    assert all("carol" not in s.sql for s in found_.statements)  # bob still planned, carol not
    message = found_.refusal_error("people")
    assert message.startswith("deprovision_users (access/people.yaml): refusing to drop 1 user(s) who left IAM "
                              "Identity Center, before any change: AWSIDC:carol (left): owns schema carol_sandbox")
    assert "set transfer_ownership_to" in message


def test_with_transfer_ownership_to_the_objects_move_first() -> None:
    fake = warehouse()
    found_ = departures_of(fake, DeprovisionSettings(NS, "admin", "user"), Answers(carol="gone"))
    assert found_.refused == []
    assert [(s.phase, s.sql) for s in found_.statements] == [
        (USER_TRANSFER_PHASE, 'ALTER SCHEMA "carol_sandbox" OWNER TO "admin"'),
        (USER_TRANSFER_PHASE, 'ALTER TABLE "carol_sandbox"."scratch" OWNER TO "admin"'),
        (USER_TRANSFER_PHASE, 'ALTER TABLE "sales"."carol_view" OWNER TO "admin"'),
        (USER_DROP_PHASE, 'DROP USER "AWSIDC:carol"'),
    ]
    fake.apply(with_statements(plan(AccessState(), fake.state(), fake.ledger("m")), found_.statements), "m")
    assert "AWSIDC:carol" not in fake.users
    assert set(fake.owners.values()) == {"admin"}


def test_objects_no_statement_can_transfer_are_refused_even_with_a_target() -> None:
    fake = warehouse()
    fake.create_owned("AWSIDC:bob", "function", "public", "f_bob")
    found_ = departures_of(fake, DeprovisionSettings(NS, "admin", "user"), Answers(bob="gone"))
    assert [r.user for r in found_.refused] == ["AWSIDC:bob"]
    assert "owns function public.f_bob (transfer by hand" in found_.refused[0].blockers[0]


def test_the_reader_the_transfer_target_and_unchecked_users_are_never_dropped() -> None:
    fake = warehouse()
    settings = DeprovisionSettings(NS, "AWSIDC:alice", "user")
    answers = Answers(alice="gone", bob="unchecked", carol="gone")
    found_ = departures_of(fake, settings, answers)
    assert "AWSIDC:alice" not in answers.asked  # objects go to her: never a candidate
    assert [v.user for v in found_.unchecked] == ["AWSIDC:bob"]
    assert found_.warnings == ["user AWSIDC:bob was not checked in IAM Identity Center (AccessDenied); kept, "
                               "checked again at the next deploy"]
    assert [s.sql for s in found_.statements][-1] == 'DROP USER "AWSIDC:carol"'
    assert not any("bob" in s.sql for s in found_.statements)


def test_the_removal_runs_after_the_model_and_renders_under_its_phases() -> None:
    fake = warehouse()
    desired = parse_model({**MODEL, "transfer_ownership_to": "user:admin"}, name="people", source=SOURCE).desired
    found_ = departures_of(fake, DeprovisionSettings(NS, "admin", "user"), Answers(carol="gone", bob="gone"))
    merged = with_statements(plan(desired, fake.state(), fake.ledger("people")), found_.statements)
    phases = [s.phase for s in merged.statements]
    assert phases == sorted(phases) and phases[-1] == USER_DROP_PHASE
    assert merged.sql.index('CREATE ROLE "AWSIDC:exec"') < merged.sql.index(
        'ALTER SCHEMA "carol_sandbox" OWNER TO "admin"')
    review = render_for_review(merged, [])
    for title in ("-- revoke the direct grants of users who left IAM Identity Center (deprovision_users)",
                  "-- transfer what they own (transfer_ownership_to)", "-- drop users who left IAM Identity Center"):
        assert title in review
    fake.apply(merged, "people")
    assert set(fake.users) == {"admin", "AWSIDC:alice"}


def test_unknown_privileges_are_refused_not_rendered() -> None:
    catalog = parse_users({"idc_users": [("AWSIDC:eve", False)], "idc_user_privileges": [
        ("schema", "AWSIDC:eve", "EXECUTE", "public", "", "", "FUNCTIONS"),
        ("table", "AWSIDC:eve", "SELECT; DROP", "public", "t", "", "")]}, NS)
    found_ = departures(catalog, DeprovisionSettings(NS), [Verdict("AWSIDC:eve", "gone", "left")])
    assert found_.statements == [] and [r.user for r in found_.refused] == ["AWSIDC:eve"]
    assert "revoke it by hand" in found_.refused[0].blockers[0]


# --------------------------------------------------------------------------- a deploy, end to end

_VALIDATOR = ParamValidator()


class FakeIdentityStore:
    """The identity store calls `IdcDirectory` makes, parameters validated against botocore's model, pages of
    `page_size`."""

    def __init__(self, users: dict[str, str], groups: dict[str, str], members: dict[str, list[str]],
                 page_size: int = 2) -> None:
        import botocore.session

        self.model = botocore.session.get_session().get_service_model("identitystore")
        self.users = users  # user id -> userName
        self.groups = groups  # group id -> display name
        self.members = members  # user id -> group ids
        self.page_size = page_size
        self.calls: Counter[str] = Counter()

    def _check(self, operation: str, params: dict[str, Any]) -> None:
        report = _VALIDATOR.validate(params, self.model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        assert params["IdentityStoreId"] == STORE
        self.calls[operation] += 1

    @staticmethod
    def _missing(operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation)

    def _page(self, items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        start = int(params.get("NextToken") or 0)
        end = start + min(self.page_size, int(params.get("MaxResults") or 100))
        return items[start:end], ({"NextToken": str(end)} if end < len(items) else {})

    def get_user_id(self, **params: Any) -> dict[str, Any]:
        self._check("GetUserId", params)
        name = params["AlternateIdentifier"]["UniqueAttribute"]["AttributeValue"]
        for user_id, user_name in self.users.items():
            if user_name == name:  # exactly as written: the listing covers other cases
                return {"IdentityStoreId": STORE, "UserId": user_id, "UserArn": user_arn(user_id)}
        raise self._missing("GetUserId")

    def get_group_id(self, **params: Any) -> dict[str, Any]:
        self._check("GetGroupId", params)
        name = params["AlternateIdentifier"]["UniqueAttribute"]["AttributeValue"]
        for group_id, display_name in self.groups.items():
            if display_name == name:
                return {"IdentityStoreId": STORE, "GroupId": group_id, "GroupArn": group_arn(group_id)}
        raise self._missing("GetGroupId")

    def list_users(self, **params: Any) -> dict[str, Any]:
        self._check("ListUsers", params)
        users = [{"IdentityStoreId": STORE, "UserId": uid, "UserArn": user_arn(uid), "Revision": "1", "UserName": name}
                 for uid, name in self.users.items()]
        page, more = self._page(users, params)
        return {"Users": page, **more}

    def list_group_memberships_for_member(self, **params: Any) -> dict[str, Any]:
        self._check("ListGroupMembershipsForMember", params)
        user_id = params["MemberId"]["UserId"]
        items = [{"IdentityStoreId": STORE, "MembershipId": f"m-{g}", "MembershipArn": membership_arn(f"m-{g}"),
                  "GroupId": g, "MemberId": {"UserId": user_id}} for g in self.members.get(user_id, [])]
        page, more = self._page(items, params)
        return {"GroupMemberships": page, **more}


LAKEHOUSE = load_environment("sample-lakehouse")
PROPERTIES = {**resource_properties("sample-lakehouse", workgroup="lakehouse-wg", namespace="lakehouse"),
              "IdentityStoreId": STORE,
              "AssignedGroups": [{"DisplayName": g.display_name} for g in LAKEHOUSE.redshift_idc_application.groups],
              "AssignedUsers": []}


class Deploy:
    """The lakehouse sample's model deployed by the real handlers, as the Provider framework drives them."""

    def __init__(self, fake: FakeRedshift, store: FakeIdentityStore) -> None:
        self.fake = fake
        self.clock = SimClock()
        self.api = FakeDataApi(fake, self.clock, model="sample-lakehouse", users_namespace="AWSIDC")
        self.driver = ProviderDriver(self.api, self.clock, identitystore=store)
        self.requests = 0
        self.properties: dict[str, Any] = dict(PROPERTIES)  # a test may change them (CoalesceStatements)
        compiled = load_model("sample-lakehouse", LAKEHOUSE)
        self.model, self.desired, self.settings = compiled.model, compiled.desired, compiled.deprovision

    def run(self, transfer_to: str | None = None) -> Any:
        self.requests += 1
        settings = self.settings
        assert settings is not None and self.model.deprovision_users
        if transfer_to is not None:  # as `transfer_ownership_to: user:<transfer_to>` would compile
            settings = DeprovisionSettings(settings.namespace, transfer_to, "user")
        event = cfn_event("Create" if self.requests == 1 else "Update",
                          {**self.properties, "ModelHash": f"hash-{self.requests}"}, request_id=f"r-{self.requests}",
                          physical_id=None if self.requests == 1 else "access-model:lakehouse-wg/dev/sample-lakehouse")
        document = model_document(self.desired, [], settings).encode("utf-8")
        return self.driver.run(event, document)


def lakehouse_store() -> FakeIdentityStore:
    return FakeIdentityStore(
        users={ALICE: "Alice", BOB: "bob", "u-3": "erin"},
        groups={SALES: "sales", EXEC: "exec", "g-fin": "finance", OTHER: "interns"},
        members={ALICE: [OTHER, "g-x", SALES], BOB: [OTHER], "u-3": []})


def test_a_deploy_drops_who_left_refuses_an_owner_then_transfers_when_told() -> None:
    fake = FakeRedshift()
    fake.sign_in("admin")  # the database's admin user: who `transfer_ownership_to: user:admin` names
    for user in ("AWSIDC:alice", "AWSIDC:bob", "AWSIDC:frank", "AWSIDC:erin"):
        fake.sign_in(user)  # alice (as Alice) in sales; bob only in interns; frank deleted from IdC; erin in none
    fake.execute('GRANT USAGE ON SCHEMA "public" TO "AWSIDC:bob"')
    fake.create_owned("AWSIDC:erin", "table", "public", "erin_scratch")
    store = lakehouse_store()
    deploy = Deploy(fake, store)

    refused = deploy.run()
    assert not refused.complete
    assert refused.error.startswith("deprovision_users (access/sample-lakehouse.yaml): refusing to drop 1 user(s) "
                                    "who left IAM Identity Center, before any change: AWSIDC:erin (in identity "
                                    f"store {STORE}, but in none of the groups the environment assigns (exec, "
                                    "finance, sales)): owns table public.erin_scratch")
    assert set(fake.users) == {"admin", "AWSIDC:alice", "AWSIDC:bob", "AWSIDC:frank", "AWSIDC:erin"}  # unchanged
    assert fake.state().of_kind("role") == {}

    done = deploy.run(transfer_to="admin")
    assert done.complete, done.error
    assert set(fake.users) == {"admin", "AWSIDC:alice"}
    assert fake.owners == {("table", "public", "erin_scratch"): "admin"}
    assert not fake.user_privileges
    invocations = refused.invocations + done.invocations - 2  # is_complete calls (on_event asks nothing)
    assert store.calls["GetGroupId"] == 3 * invocations  # the sample's groups have no ids: once per invocation
    assert store.calls["ListUsers"] >= 2  # 'alice' is 'Alice' in IdC: found case-insensitively (paged)

    before = len(fake.history)
    again = deploy.run(transfer_to="admin")
    assert again.complete and [sql for sql in fake.history[before:] if "USER" in sql or "OWNER" in sql] == []


def test_a_deploy_without_the_identity_store_property_fails_before_any_call() -> None:
    fake = FakeRedshift()
    clock = SimClock()
    api = FakeDataApi(fake, clock, model="sample-lakehouse", users_namespace="AWSIDC")
    compiled = load_model("sample-lakehouse", LAKEHOUSE)
    document = model_document(compiled.desired, [], compiled.deprovision).encode("utf-8")
    properties = {k: v for k, v in PROPERTIES.items() if k != "IdentityStoreId"}
    event = {**cfn_event("Create", {**properties, "ModelHash": "h"}, request_id="r"), "ApplyDeadline": clock.now + 3000}
    request = build_request(CustomResourceEvent.from_dict(event), json.loads(document))
    assert request.deprovision == DeprovisionSettings("AWSIDC")
    with pytest.raises(CustomResourceError, match="deprovision_users is on, but the custom resource has no "
                                                  "IdentityStoreId property"):
        is_complete(event, api=DataApi(Target("lakehouse-wg", "dev", "arn:secret"), api), s3=FakeS3(document),
                    clock=clock)
    assert api.total_calls == 0


def test_a_delete_never_removes_users() -> None:
    event = cfn_event("Delete", {**PROPERTIES, "ModelHash": "h"}, request_id="r",
                      physical_id="access-model:lakehouse-wg/dev/sample-lakehouse")
    assert build_request(CustomResourceEvent.from_dict(event), None).deprovision is None


def test_the_drift_report_lists_who_would_be_removed_and_why() -> None:
    """`plan --live` / `drift`: the users the next deploy removes, why, and their statements; a refused owner
    is drift too (the deploy would fail). Read-only: SELECTs, nothing changed."""
    from redshift_idc.deployed.drift import drift_report

    fake = FakeRedshift()
    compiled = load_model("sample-lakehouse", LAKEHOUSE)
    model, desired = compiled.model, compiled.desired
    fake.apply(plan(desired, AccessState()), model.name)
    # The deploy's next read records the hash of each policy's text in the catalog (ledger only).
    fake.apply(plan(desired, fake.state(), fake.ledger(model.name), stored=fake.stored_hashes()), model.name)
    for user in ("AWSIDC:alice", "AWSIDC:bob", "AWSIDC:erin"):
        fake.sign_in(user)
    fake.execute('GRANT USAGE ON SCHEMA "public" TO "AWSIDC:bob"')
    fake.create_owned("AWSIDC:erin", "table", "public", "erin_scratch")
    clock = SimClock()
    api = CatalogDataApi(fake, clock, model=model.name, users_namespace="AWSIDC")
    result = drift_report(LAKEHOUSE, "arn:aws:secretsmanager:us-east-1:666666666666:secret:x", client=api,
                          sleep=clock.sleep, identitystore=lakehouse_store())
    assert len(api.selects) == 1 and api.selects[0][-6:] == [sql for _, sql in user_queries("AWSIDC")]
    lines = result.text.splitlines()
    assert "-- users who left IAM Identity Center (deprovision_users): 1 removed, 1 refused" in lines
    assert (f"--   remove AWSIDC:bob: in identity store {STORE}, but in none of the groups the environment assigns "
            "(exec, finance, sales)") in lines
    assert any(line.startswith("--   refuse AWSIDC:erin (") and "owns table public.erin_scratch" in line
               for line in lines)
    assert 'REVOKE USAGE ON SCHEMA "public" FROM "AWSIDC:bob";' in lines and 'DROP USER "AWSIDC:bob";' in lines
    assert "-- drop users who left IAM Identity Center" in lines
    assert (result.statements, result.refused, result.in_sync) == (2, 1, False)
    assert result.summary.endswith("(nothing was changed); the next deploy would fail: 1 user(s) who left IAM "
                                   "Identity Center cannot be dropped (see above)")
    assert "AWSIDC:bob" in fake.users  # the report changes nothing

    fake.execute('ALTER TABLE "public"."erin_scratch" OWNER TO "AWSIDC:alice"')  # handled by hand
    fake.execute('REVOKE USAGE ON SCHEMA "public" FROM "AWSIDC:bob"')
    fake.execute('DROP USER "AWSIDC:bob"')
    fake.execute('DROP USER "AWSIDC:erin"')
    clean = drift_report(LAKEHOUSE, "arn:aws:secretsmanager:us-east-1:666666666666:secret:x", client=api,
                         sleep=clock.sleep, identitystore=lakehouse_store())
    assert clean.in_sync and clean.summary.startswith("in sync: lakehouse-wg/dev matches")
