"""The drdoctor app: its modes (checkup, generate, runs, jobs, install), bindings with ids, a command palette.

A face on the engines behind `drdoctor check`, `fix` and `generate`: the screens start workers that
call those engines and post messages back; nothing here decides what the CLI would not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from doctor import __version__
from doctor.tui import messages, settings
from doctor.tui.options import TuiOptions
from doctor.tui.palette import DrDoctorCommands
from doctor.tui.screens.checkup import CheckupScreen
from doctor.tui.screens.generate import GenerateScreen
from doctor.tui.screens.help import HelpScreen
from doctor.tui.screens.install import InstallScreen
from doctor.tui.screens.jobs import JobsScreen
from doctor.tui.screens.runs import RunsScreen


class DrDoctorApp(App):
    TITLE = "drdoctor"
    SUB_TITLE = f"DiffRhythm doctor {__version__}"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses elsewhere keep it
    MODES = {"checkup": CheckupScreen, "generate": GenerateScreen, "runs": RunsScreen, "jobs": JobsScreen,
             "install": InstallScreen}
    DEFAULT_MODE = "checkup"
    COMMANDS = {DrDoctorCommands}  # Textual's own commands included, after drdoctor's (palette.py)
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help", tooltip="What this screen does and its keys."),
        Binding("f2", "switch_mode('checkup')", "Checkup", id="app.checkup", show=False,
                tooltip="The checkup of this machine and the DiffRhythm install."),
        Binding("f3", "switch_mode('generate')", "Generate", id="app.generate", show=False,
                tooltip="Make a song: the form, then the run's progress."),
        Binding("f4", "switch_mode('runs')", "Runs", id="app.runs", show=False, tooltip="The run history, with resume."),
        Binding("f5", "switch_mode('jobs')", "Jobs", id="app.jobs", show=False,
                tooltip="The service's job queue: live stages, cancel, open the run."),
        Binding("f6", "switch_mode('install')", "Install", id="app.install", show=False,
                tooltip="Install DiffRhythm: the plan, consent, then `drdoctor install` with live progress."),
    ]

    def __init__(self, options: TuiOptions | None = None, *, report_path: Path | None = None,
                 keymap: dict[str, str] | None = None, mode: str | None = None) -> None:
        if mode:
            self.DEFAULT_MODE = mode  # read by App.__init__
        super().__init__()
        self.options = options or TuiOptions()
        self.report: Any = None  # the newest checkup Report (the generate form reads its advice)
        self.report_path = report_path or Path("drdoctor-report.json")
        if keymap:
            self.set_keymap(keymap)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's Screenshot: into ~/Downloads where that exists, else a folder of drdoctor's own."""
        return super().deliver_screenshot(filename, path or str(settings.screenshot_folder()), time_format)

    def on_mount(self) -> None:
        saved = settings.saved_theme()
        if saved in self.available_themes and saved != self.theme:
            self.theme = saved
        self.theme_changed_signal.subscribe(self, self._keep_theme)

    def _keep_theme(self, theme) -> None:
        """A theme chosen in the palette is the theme of the next start too (`[tui] theme` in the config)."""
        if theme.name != settings.saved_theme() and (problem := settings.save_theme(theme.name)):
            self.notify(f"the theme is not kept: {problem}", severity="warning")

    # ---------------------------------------------------------------- navigation
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def _goto(self, mode: str):
        if self.current_mode != mode:
            await self.switch_mode(mode)
        return self.screen

    async def resume_run(self, folder: str) -> None:
        screen = await self._goto("generate")
        screen.resume_run(folder)

    async def fill_generate_form(self, **fields: str) -> None:
        """From the runs history: a run's folder as the style source, or its song to edit."""
        screen = await self._goto("generate")
        screen.fill(**fields)

    # ---------------------------------------------------------------- palette actions
    async def action_rerun_checkup(self) -> None:
        (await self._goto("checkup")).action_rerun()

    async def action_fix_selected(self) -> None:
        (await self._goto("checkup")).action_fix()

    async def action_copy_report(self) -> None:
        (await self._goto("checkup")).action_copy_report()

    async def action_save_report(self) -> None:
        (await self._goto("checkup")).action_save_report()

    async def action_generate_run(self) -> None:
        (await self._goto("generate")).action_run()

    async def action_generate_cancel(self) -> None:
        (await self._goto("generate")).action_cancel()

    async def action_reload_runs(self) -> None:
        (await self._goto("runs")).action_reload()

    async def action_install_run(self) -> None:
        (await self._goto("install")).action_install()

    async def action_install_cancel(self) -> None:
        (await self._goto("install")).action_cancel()

    # ---------------------------------------------------------------- worker failures, in one place
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised: say so instead of failing silently; a dead run reader ends the run."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.notify(f"{event.worker.name or 'a worker'} failed: {type(error).__name__}: {error}",
                    title="internal error", severity="error", timeout=15)
        node = event.worker.node
        if event.worker.group == "run" and getattr(node, "running", False):
            node.post_message(messages.RunExited(1, [f"{type(error).__name__}: {error}"]))
        if event.worker.group == "checkup":
            node.post_message(messages.CheckupFailed(f"{type(error).__name__}: {error}"))

    # ---------------------------------------------------------------- cross-screen news
    def on_checkup_finished(self, message: messages.CheckupFinished) -> None:
        for screen in self._screens_of("generate"):
            screen.show_recommendation()

    def on_runs_changed(self, message: messages.RunsChanged) -> None:
        for screen in self._screens_of("runs"):
            screen.action_reload()

    def _screens_of(self, mode: str) -> list:
        return [s for s in self._screen_stacks.get(mode, []) if s.is_mounted]
