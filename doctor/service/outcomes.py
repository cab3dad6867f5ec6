"""The one table from a runner's exit code to a job's outcome (README, "Generation service").

| exit | outcome     | what the service does                                                         |
| ---- | ----------- | ----------------------------------------------------------------------------- |
| 0    | succeeded   | final; the output is the job's song (and the cache's answer for equal jobs)    |
| 1    | failed      | final: a bug in the runner; its stderr tail is kept in the job's message       |
| 2    | bad_request | final: the request or an input file is wrong                                   |
| 3    | environment | final: the environment named in the error event (model files, device, disk)   |
| 4    | invalid     | final: the model produced invalid output                                       |
| 5    | oom         | final: out of memory after the runner's own fallbacks                          |
| 6    | timed_out   | final: past the job's timeout                                                  |
| 130  | cancelled   | final when cancelled by a user (`queue retry` resumes it); requeued when the   |
|      |             | worker itself was asked to stop (SIGTERM)                                      |
| -    | died        | the worker died (no heartbeat for the stall timeout): retried, resuming from  |
|      |             | the run folder when it is reachable; past the job's attempts: dead             |
"""

from __future__ import annotations

from runner.events import ExitCode

OUTCOMES: dict[int, str] = {
    int(ExitCode.OK): "succeeded",
    int(ExitCode.FAILURE): "failed",
    int(ExitCode.BAD_INPUT): "bad_request",
    int(ExitCode.ENVIRONMENT): "environment",
    int(ExitCode.INVALID_OUTPUT): "invalid",
    int(ExitCode.OUT_OF_MEMORY): "oom",
    int(ExitCode.TIMED_OUT): "timed_out",
    int(ExitCode.CANCELLED): "cancelled",
}
DIED = "died"  # an attempt whose worker stopped heartbeating
DEAD = "dead"  # a job past its attempts
CACHED = "cached"  # answered from an equal finished job
REQUEUED = "requeued"  # an attempt stopped because its worker was told to stop

FINAL = frozenset(OUTCOMES.values()) | {DEAD, CACHED}


def outcome_for(exit_code: int) -> str:
    """Any other code (a runner killed by a signal: 128 + N) is a failure, reported with its number."""
    return OUTCOMES.get(exit_code, "failed")
