"""CloudWatch Logs retention in days (as config states it) to CDK's `RetentionDays` enum names."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

_BY_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
SUPPORTED_DAYS = tuple(sorted(_BY_DAYS))


def retention_days(days: int) -> logs.RetentionDays:
    """Config validation already restricts `days` to `SUPPORTED_DAYS` (a test keeps the two in step)."""
    return logs.RetentionDays[_BY_DAYS[days]]
