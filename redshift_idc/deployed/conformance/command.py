"""The `conformance` command: check the arguments before any call, record, write the file, and word every error
for the person running it (exit 2, as `drift` and `snapshot` do)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.deployed.conformance.objects import Extras
from redshift_idc.deployed.conformance.recorder import NotScratchError, RecorderError, record
from redshift_idc.deployed.conformance.session import Session, StuckError
from redshift_idc.deployed.session import SECRET_ARN, data_api_error
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target

OK, FAILED, ERROR = 0, 1, 2
WORKGROUP = r"^[a-z0-9-]{3,63}$"
ARN_PREFIX = "arn:aws"


class UsageError(Exception):
    """An argument refused before any call."""


@dataclass(frozen=True)
class Arguments:
    workgroup: str
    secret_arn: str
    database: str = "dev"
    region: str | None = None
    out: Path = Path("conformance.json")
    force: bool = False
    extras: Extras = field(default_factory=Extras)


def check(arguments: Arguments) -> str:
    """The region to call, after checking the names (a typo would otherwise reach the API)."""
    import re

    if not re.match(WORKGROUP, arguments.workgroup):
        raise UsageError(f"--workgroup {arguments.workgroup!r}: a Redshift Serverless workgroup name is 3 to 63 "
                         "lower-case letters, digits and hyphens")
    if not SECRET_ARN.match(arguments.secret_arn):
        raise UsageError("--secret-arn is not a Secrets Manager secret ARN; expected "
                         "arn:aws:secretsmanager:<region>:<account>:secret:<name> (the namespace's admin secret)")
    if not arguments.database or not re.match(r"^[a-z_][a-z0-9_$]{0,126}$", arguments.database):
        raise UsageError(f"--database {arguments.database!r}: name the scratch database (default dev)")
    extras = arguments.extras
    for flag, value in (("--with-idc", extras.idc_application_arn), ("--with-idc", extras.idc_role_arn),
                        ("--with-datashare", extras.datashare_arn)):
        if value and not value.startswith(ARN_PREFIX):
            raise UsageError(f"{flag} {value!r}: expected an ARN (arn:aws:...)")
    region = arguments.region or arguments.secret_arn.split(":")[3]
    if arguments.out.exists() and not arguments.force:
        raise UsageError(f"{arguments.out}: already exists; pass --force to replace it, or choose another --out")
    return region


def conformance_command(arguments: Arguments, *, client: Any = None, sleep: Callable[[float], None] | None = None,
                        clock: Callable[[], float] | None = None, now_ms: Callable[[], int] | None = None,
                        source: str = "redshift", out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Exit 0: recorded, the model applied; 1: recorded, but a deploy failed (the file says where) or cleanup left
    objects behind (named on stderr); 2: error (nothing written)."""
    out = out or sys.stdout
    err = err or sys.stderr
    where = f"{arguments.workgroup}/{arguments.database}"
    try:
        region = check(arguments)
        api = DataApi(Target(arguments.workgroup, arguments.database, arguments.secret_arn),
                      client or boto3.client("redshift-data", region_name=region, config=RETRIES))
        session = Session(api, sleep or time.sleep, clock or time.monotonic)
        recording = record(session, arguments.extras, force=arguments.force, source=source,
                           database=arguments.database, region=region, now_ms=now_ms)
    except (UsageError, NotScratchError, RecorderError, StuckError) as error:
        print(f"error: {where}: {error}" if not isinstance(error, UsageError) else f"error: {error}", file=err)
        return ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"error: {data_api_error(error, where, 'conformance')}", file=err)
        return ERROR
    try:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(recording, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    except OSError as error:
        print(f"error: {arguments.out}: cannot write the recording: {error.strerror or error}", file=err)
        return ERROR
    left = recording.get("left_behind", [])
    if left:
        print(f"warning: cleanup left {', '.join(left)}: drop them by hand (DROP SCHEMA ... CASCADE, DROP ROLE ... "
              "FORCE); the file's cleanup_errors say why", file=err)
    probes = recording.get("probes", [])
    print(f"wrote {arguments.out}: {len(recording.get('covered_forms', []))} statement forms, "
          f"{len(recording.get('reads', {}))} catalog queries, {len(probes)} probes on {where}; "
          + ("everything the recorder created was removed" if not left else "see the warning"), file=out)
    if left:
        return FAILED
    if not recording.get("model_applied"):
        failed: dict[str, Any] = next((d for d in recording.get("deploys", []) if not d.get("ok")), {})
        print(f"error: a deploy failed ({failed.get('label', 'setup')}): {failed.get('error', 'see the file')}; the "
              "recording holds the evidence: please contribute it", file=err)
        return FAILED
    return OK
