"""What a check returns: ok, failed (what is wrong and the fix) or skipped (not configured, or a check it
needs failed first), and the error that ends a check as failed wherever it is raised."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, ParamSpec

Status = Literal["ok", "failed", "skipped"]
OK: Status = "ok"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    fix: str = ""
    stops: str = ""  # set when checks that need what this one looked for cannot run: the reason they skip

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def lines(self) -> list[str]:
        """The checklist entry: `ok  <name>`, `skipped <name>: why`, or `FAILED <name>: detail` and its fix."""
        if self.status == OK:
            return [f"ok  {self.name}" + (f": {self.detail}" if self.detail else "")]
        if self.status == SKIPPED:
            return [f"skipped {self.name}: {self.detail}"]
        return [f"FAILED {self.name}: {self.detail}", *([f"    fix: {self.fix}"] if self.fix else [])]


class CheckError(Exception):
    """Ends one check as failed: what was found (`detail`) and what to do (`fix`, when known)."""

    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


P = ParamSpec("P")


def check(name: str, fix: str = "") -> Callable[[Callable[P, CheckResult]], Callable[P, CheckResult]]:
    """A check function that raises CheckError returns it as a failed result instead (with `fix` when the
    error names none). NoCredentialsError is not caught: without credentials nothing can be checked."""
    def decorate(function: Callable[P, CheckResult]) -> Callable[P, CheckResult]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
            try:
                return function(*args, **kwargs)
            except CheckError as error:
                return CheckResult(name, FAILED, error.detail, error.fix or fix)
        return run
    return decorate
