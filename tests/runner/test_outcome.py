"""Every exception maps to its exit code in one place."""

import pytest
import torch

from runner.errors import BadInput, Cancelled, EnvironmentProblem, InvalidOutput, OutOfMemory, TimedOut
from runner.outcome import exit_code_for, outcome_for


@pytest.mark.parametrize(
    "exc, code",
    [
        (BadInput("x"), 2),
        (EnvironmentProblem("x"), 3),
        (InvalidOutput("x"), 4),
        (OutOfMemory("x"), 5),
        (TimedOut("x"), 6),
        (Cancelled("x"), 130),
        (KeyboardInterrupt(), 130),
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), 5),
        (RuntimeError("DefaultCPUAllocator: not enough memory... out of memory"), 5),
        (ModuleNotFoundError("No module named 'x_transformers'"), 3),
        (ValueError("boom"), 1),
    ],
)
def test_exit_codes(exc, code):
    assert exit_code_for(exc) == code
    outcome = outcome_for(exc)
    assert outcome.message and (outcome.remedy or isinstance(exc, (BadInput, EnvironmentProblem, InvalidOutput,
                                                                    OutOfMemory, TimedOut, Cancelled)))


def test_unexpected_errors_ask_for_a_traceback():
    assert outcome_for(ValueError("boom")).traceback_worthy
    assert not outcome_for(BadInput("x")).traceback_worthy
