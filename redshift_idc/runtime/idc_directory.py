"""Who is still in IAM Identity Center: the identity store's answer for each IdC user of the warehouse, for
`deprovision_users` (`users.py` plans the drops from these verdicts). A user whose status cannot be read is never
counted as gone: an outage or a throttled page must not drop anyone."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

THROTTLING_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
# botocore's adaptive retries first (short timeouts: a call never eats an invocation's margin), then ours.
IDENTITYSTORE_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 4}, connect_timeout=5, read_timeout=15)
THROTTLE_ATTEMPTS = 3
THROTTLE_BACKOFF_SECONDS = 1.0
PAGE_SIZE = 100  # the identity store's maximum MaxResults


@dataclass(frozen=True)
class Verdict:
    """What the identity store said about one database user: `kept`, `gone` (dropped), or `unchecked`
    (an error: kept, reported), and why."""

    user: str
    status: Literal["kept", "gone", "unchecked"]
    reason: str


class Directory(Protocol):
    def verdict(self, user: str, name: str) -> Verdict:
        """`user` is the database user, `name` its IdC user name (the part after the namespace)."""


class _Unchecked(Exception):
    """An identity store call that failed for another reason than "not found"."""


@dataclass(frozen=True)
class Assigned:
    """A group (display name) or user (user name) the environment assigns, with its id when config gives it."""

    name: str
    id: str | None = None


class IdcDirectory:
    """The identity store, asked the questions `deprovision_users` needs, with the least the role may do:
    `GetUserId` (userName), `ListUsers` (only when a name is not found as written: Redshift's stored case and
    whether it names users by userName or email are unconfirmed, so absence is confirmed case-insensitively
    against both before a user counts as gone), `ListGroupMembershipsForMember` (paginated) and `GetGroupId`
    (assigned groups config gives no id for). Answers are cached for the life of the object (one Lambda
    invocation, one drift report)."""

    def __init__(self, client: Any, identity_store_id: str, groups: Sequence[Assigned],
                 users: Sequence[Assigned] = (), *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.store = identity_store_id
        self.groups = tuple(groups)
        self.users = tuple(users)
        self.sleep = sleep
        self.calls = 0
        self._group_ids: dict[str, str] | None = None  # group id -> display name
        self._group_problem = ""
        self._missing_groups: list[str] = []
        self._index: dict[str, list[str]] | None = None  # casefolded userName or email -> user ids
        self._user_ids: set[str] | None = None  # ids of the users assigned on their own

    # -- calls

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One identity store call; throttling that outlasts botocore's retries is tried again a few times."""
        for attempt in range(THROTTLE_ATTEMPTS):
            self.calls += 1
            try:
                response: dict[str, Any] = getattr(self.client, operation)(IdentityStoreId=self.store, **params)
                return response
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code in THROTTLING_ERRORS and attempt + 1 < THROTTLE_ATTEMPTS:
                    self.sleep(THROTTLE_BACKOFF_SECONDS * 2 ** attempt)
                    continue
                if code == "ResourceNotFoundException":
                    raise
                message = str(error.response.get("Error", {}).get("Message", ""))
                tries = f" (after {THROTTLE_ATTEMPTS} attempts)" if code in THROTTLING_ERRORS else ""
                raise _Unchecked(f"identitystore {_api_name(operation)}: {code}{tries}: {message}") from None
            except BotoCoreError as error:
                raise _Unchecked(f"identitystore {_api_name(operation)}: {type(error).__name__}: {error}") from None
        raise AssertionError("unreachable")

    def _pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(operation, MaxResults=PAGE_SIZE, **params, **({"NextToken": token} if token else {}))
            items += page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return items

    # -- what is assigned

    def assigned_group_ids(self) -> dict[str, str]:
        """Group id -> display name of every assigned group; ids config does not give are looked up by
        display name (a group since deleted assigns nobody: noted in `notes`)."""
        if self._group_ids is None:
            found: dict[str, str] = {}
            try:
                for group in self.groups:
                    if group.id:
                        found[group.id] = group.name
                        continue
                    try:
                        response = self._call("get_group_id", AlternateIdentifier={"UniqueAttribute": {
                            "AttributePath": "displayName", "AttributeValue": group.name}})
                    except ClientError:  # ResourceNotFoundException: the group no longer exists
                        self._missing_groups.append(group.name)
                        continue
                    found[str(response["GroupId"])] = group.name
            except _Unchecked as error:
                self._group_problem = str(error)
            self._group_ids = found
        if self._group_problem:
            raise _Unchecked(f"cannot resolve the assigned groups: {self._group_problem}")
        return self._group_ids

    def assigned_user_ids(self) -> set[str]:
        """Ids of the users assigned on their own: config's, or looked up by user name (a user Redshift names by
        email is then still recognised)."""
        if self._user_ids is None:
            ids = {u.id for u in self.users if u.id}
            for user in self.users:
                if not user.id:
                    try:
                        ids.add(str(self._call("get_user_id", AlternateIdentifier={"UniqueAttribute": {
                            "AttributePath": "userName", "AttributeValue": user.name}})["UserId"]))
                    except ClientError:  # ResourceNotFoundException: no longer in the store, assigns nobody
                        continue
            self._user_ids = ids
        return self._user_ids

    @property
    def notes(self) -> list[str]:
        return [f"assigned group '{name}' is not in identity store {self.store}: it assigns nobody"
                for name in self._missing_groups]

    def _scan(self) -> dict[str, list[str]]:
        """Every user of the store by casefolded userName and email (once; only when a name was not found
        as written)."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for user in self._pages("list_users", "Users"):
                keys = {str(user.get("UserName") or "").casefold()}
                keys |= {str(e.get("Value") or "").casefold() for e in user.get("Emails") or []}
                for key in keys - {""}:
                    index.setdefault(key, []).append(str(user["UserId"]))
            self._index = index
        return self._index

    # -- the question

    def verdict(self, user: str, name: str) -> Verdict:
        try:
            return self._verdict(user, name)
        except _Unchecked as error:
            return Verdict(user, "unchecked", str(error))

    def _verdict(self, user: str, name: str) -> Verdict:
        groups = self.assigned_group_ids()
        try:
            ids = [str(self._call("get_user_id", AlternateIdentifier={"UniqueAttribute": {
                "AttributePath": "userName", "AttributeValue": name}})["UserId"])]
        except ClientError:  # ResourceNotFoundException
            ids = self._scan().get(name.casefold(), [])
        if not ids:
            return Verdict(user, "gone", f"no user '{name}' in identity store {self.store} (userName or email, "
                                         "any case)")
        if name.casefold() in {u.name.casefold() for u in self.users} or self.assigned_user_ids() & set(ids):
            return Verdict(user, "kept", "assigned to the Redshift IdC application on its own")
        for user_id in ids:
            memberships = self._pages("list_group_memberships_for_member", "GroupMemberships",
                                      MemberId={"UserId": user_id})
            member_of = sorted({groups[m["GroupId"]] for m in memberships if m.get("GroupId") in groups})
            if member_of:
                return Verdict(user, "kept", f"member of {', '.join(member_of)}")
        assigned = ", ".join(sorted(set(groups.values()))) or "none"
        return Verdict(user, "gone", f"in identity store {self.store}, but in none of the groups the environment "
                                     f"assigns ({assigned})")


def _api_name(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def directory_entries(entries: Any, name_key: str, id_key: str) -> list[Assigned]:
    """`[{name_key: ..., id_key: ...}]` (custom resource properties) as Assigned entries."""
    if not isinstance(entries, list):
        return []
    return [Assigned(str(e[name_key]), str(e[id_key]) if e.get(id_key) else None)
            for e in entries if isinstance(e, dict) and e.get(name_key)]
