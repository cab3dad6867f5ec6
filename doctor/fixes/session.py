"""The one fix orchestration `drdoctor fix` and the TUI share: choose, plan, apply, verify.

    session = FixSession(options, report, recheck=lambda: run_checkup(...))
    for fix_id in session.chosen(ids):
        plan = session.plan(fix_id)          # made from the latest facts: earlier fixes changed what it sees
        outcome = session.apply(plan, confirm, out)
        # outcome.result: what apply_plan did; with `recheck`, the facts are gathered again, the fix is
        # planned again (nothing should be left: outcome.verified) and the affected checks re-judged

Planning reads the files a fix edits; one that is not text raises `runner.textfile.Unreadable`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from doctor.fixes import FIXES, plan_for
from doctor.fixes.apply import ApplyResult, Confirm, apply_plan
from doctor.fixes.gather import FixOptions, context_from_facts
from doctor.fixes.plan import Plan

FIXABLE = ("fail", "warn")


@dataclass
class FixOutcome:
    result: ApplyResult
    checks: tuple[str, ...]             # the checks whose findings point to this fix
    before: dict[str, str]              # check id -> status before the fix
    after: dict[str, str] = field(default_factory=dict)  # ... after it (empty without a recheck)
    verified: bool | None = None        # planning again found nothing to do; None: not verified
    verification: str = ""              # what planning again said


@dataclass
class FixSession:
    options: FixOptions
    report: Any  # doctor.checkup.Report: the facts the plans are made from (None: not gathered yet)
    recheck: Callable[[], Any] | None = None  # gathers the facts again (a new Report); None: no verification

    def chosen(self, ids: Iterable[str] = ()) -> list[str]:
        """The fixes to plan, in registry order: `ids`, else every fix a failing or warning finding names."""
        wanted = set(ids) or {f.fix for f in self._findings() if f.fix and f.status.value in FIXABLE}
        return [fix_id for fix_id in FIXES if fix_id in wanted]

    def _findings(self) -> list[Any]:
        return list(getattr(self.report, "findings", None) or ())

    def checks_of(self, fix_id: str) -> tuple[str, ...]:
        return tuple(f.id for f in self._findings() if f.fix == fix_id)

    def statuses(self, check_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(check_ids)
        return {f.id: f.status.value for f in self._findings() if f.id in wanted}

    def plan(self, fix_id: str) -> Plan:
        """The plan of `fix_id` for the current facts; KeyError for an unknown id."""
        return plan_for(fix_id, context_from_facts(getattr(self.report, "facts", None), self.options))

    def apply(self, plan: Plan, confirm: Confirm, out: TextIO, followups: bool = True) -> FixOutcome:
        checks = self.checks_of(plan.fix_id)
        outcome = FixOutcome(apply_plan(plan, confirm, out, followups=followups), checks, self.statuses(checks))
        if outcome.result.state != "applied" or self.recheck is None:
            return outcome
        self.report = self.recheck()
        again = self.plan(plan.fix_id)
        outcome.verified = again.empty and not again.blocked
        outcome.verification = (again.done_reason or "") if outcome.verified else (
            again.blocked or "; ".join(step.description for step in again.steps))
        outcome.after = self.statuses(checks)
        return outcome
