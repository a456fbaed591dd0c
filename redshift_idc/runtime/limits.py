"""Every time limit of the access-model custom resource, in one place, so they cannot disagree.

CloudFormation gives a custom resource at most 3,600 s (`ServiceTimeout`, also its default) and then
fails the stack operation, whether or not the Provider framework's waiter is still polling. The
waiter's own `total_timeout` only counts attempts (`total_timeout / query_interval` of them), not the
time each is-complete invocation takes, so it cannot be the guard: `on_event` stamps every request with
an apply deadline (`APPLY_WINDOW_SECONDS` after it ran) and the reconciler stops submitting, and fails
the request naming its progress, before CloudFormation would. A rolled-back request therefore never
overlaps with the request it rolls back.

Inside one is-complete invocation the reconciler keeps submitting and polling until
`INVOCATION_BUDGET_SECONDS`; the Lambda timeout leaves room for one more Data API call at its worst
(botocore's retries included) after that. The CDK Provider framework invokes is-complete synchronously
from a Lambda of its own with a 900 s timeout, so ours must end well before that.

The apply estimate: `validate`, `make plan` and synth refuse a model whose first deploy, priced by
`access/estimate.py` with the environment's `apply_estimate:` terms and margin, would not fit
`APPLY_ESTIMATE_LIMIT_SECONDS`; `bench/deploy_sim.py` measures the reconciler's own overhead against any
latency model, and the opt-in live test prints the latency a real workgroup shows. The reconciler itself
uses `ESTIMATED_SECONDS_PER_BATCH` only to decide, near the deadline, whether one more batch can still end
before it.
"""

from __future__ import annotations

SERVICE_TIMEOUT_SECONDS = 3600  # CloudFormation's maximum for a custom resource (and its default)
APPLY_WINDOW_SECONDS = 3300  # from on_event to the reconciler's own deadline: 5 minutes before CloudFormation's
PROVIDER_TOTAL_TIMEOUT_SECONDS = 3300  # the waiter's attempt budget (each attempt takes at least the interval)
PROVIDER_QUERY_INTERVAL_SECONDS = 10

IS_COMPLETE_TIMEOUT_SECONDS = 840  # the framework's own Lambda waits at most 900 s for ours
INVOCATION_BUDGET_SECONDS = 690  # stop starting new Data API work after this, within one invocation
WAIT_GRACE_SECONDS = 30  # a batch submitted before the budget ran out may finish within this
ON_EVENT_TIMEOUT_SECONDS = 30
HANDLER_MEMORY_MB = 1024  # bench/deploy_sim.py reports the peak per invocation against it

STATEMENT_STUCK_SECONDS = 300  # a batch still running this long after it was submitted is cancelled
CANCEL_WAIT_SECONDS = 30  # how long a cancelled batch may take to report ABORTED

# A statement sent alone (outside a transaction, so without the fence: see `fence.py`) is announced first by a
# committed intent. It is sent only within INTENT_SUBMIT_SECONDS of the intent's submission; whoever finds the
# intent and no such statement waits INTENT_GRACE_SECONDS longer (a call in flight at the last moment, with
# botocore's retries: under 90 s; and ListStatements' lag, unconfirmed: 30 s) before it counts it as never sent.
INTENT_SUBMIT_SECONDS = 60
INTENT_GRACE_SECONDS = 120

ESTIMATED_SECONDS_PER_BATCH = 1.5  # near the deadline: start no batch that could not end before it
APPLY_ESTIMATE_LIMIT_SECONDS = 3000  # the estimate (reads and margin included) must leave room for restarts

# botocore: a throttled or slow call gives up after this, so one call never eats an invocation's margin.
DATA_API_MAX_ATTEMPTS = 4
DATA_API_CONNECT_TIMEOUT_SECONDS = 5
DATA_API_READ_TIMEOUT_SECONDS = 15  # 4 attempts x (5 + 15) s + backoff: under 90 s, inside the Lambda's margin
# Long polling (`WaitTimeSeconds`, 1 to 30): the service answers when the statement ends or after this long, so a
# waiting call ends well before botocore's read timeout above and stays inside the same worst case.
DATA_API_WAIT_SECONDS = 10

