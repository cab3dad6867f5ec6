"""The command palette's drdoctor commands: the ones that suit the screen being shown come first."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action on the app, the screen's HELP name it suits or "" for any)
COMMANDS = (
    ("Checkup: run again", "Run the whole checkup again", "rerun_checkup", "checkup"),
    ("Checkup: fix the selected finding", "Show the plan, confirm, apply, re-check", "fix_selected", "checkup"),
    ("Checkup: copy the JSON report", "Redacted JSON report to the clipboard", "copy_report", "checkup"),
    ("Checkup: save the JSON report", "Redacted JSON report to a file", "save_report", "checkup"),
    ("Generate: run", "Launch the runner with the form's settings", "generate_run", "generate"),
    ("Generate: cancel the run", "SIGINT: stops at a safe point, resumable", "generate_cancel", "generate"),
    ("Runs: reload the history", "Read the run folders again", "reload_runs", "runs"),
    ("Go to Checkup", "The machine and install checkup", "switch_mode('checkup')", ""),
    ("Go to Generate", "The generation form and progress", "switch_mode('generate')", ""),
    ("Go to Runs", "The run history", "switch_mode('runs')", ""),
    ("Help", "Keys and what each screen does", "help", ""),
)


class DrDoctorCommands(Provider):
    def _ordered(self):
        here = getattr(self.screen, "HELP", "")
        return sorted(COMMANDS, key=lambda c: (c[3] not in (here, ""), c[3] != here))

    async def discover(self) -> Hits:
        for title, help_text, action, _ in self._ordered():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action, _ in self._ordered():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
