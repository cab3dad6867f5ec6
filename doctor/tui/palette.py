"""The command palette: the commands that suit the screen being shown first, then drdoctor's others, then
Textual's own (keys, quit, screenshot, theme). One provider yields them all, in that order: with two, the
palette lists whichever provider answers first, which changes from one start to the next."""

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
    ("Install: run", "Plan, confirm, then drdoctor install with live progress", "install_run", "install"),
    ("Install: cancel", "SIGINT: what finished is kept, a partial download continues next time", "install_cancel",
     "install"),
    ("Go to Checkup", "The machine and install checkup", "switch_mode('checkup')", ""),
    ("Go to Generate", "The generation form and progress", "switch_mode('generate')", ""),
    ("Go to Runs", "The run history", "switch_mode('runs')", ""),
    ("Install DiffRhythm", "The checkout, environment and weights: the plan, then the install", "switch_mode('install')",
     ""),
    ("Help", "Keys and what each screen does", "help", ""),
)


class DrDoctorCommands(Provider):
    def _ordered(self):
        here = getattr(self.screen, "HELP", "")
        return sorted(COMMANDS, key=lambda c: (c[3] not in (here, ""), c[3] != here))

    def _all(self):
        """(title, help, callback, shown without a query) for every command, in the palette's order."""
        for title, help_text, action, _ in self._ordered():
            yield title, help_text, partial(self.app.run_action, action), True
        for command in sorted(self.app.get_system_commands(self.screen), key=lambda c: c.title):
            yield command.title, command.help, command.callback, command.discover

    async def discover(self) -> Hits:
        for title, help_text, callback, shown in self._all():
            if shown:
                yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self._all():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
