"""Generate: a form that refuses bad values inline, then the run with one bar per stage.

The run is launched exactly as `drdoctor generate` launches it (`doctor.launch`), as a subprocess whose
stdout a thread worker reads line by line; events come back as messages and are folded into a
`RunState`, which the widgets show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.validation import Function, ValidationResult, Validator
from textual.widgets import Button, ContentSwitcher, Footer, Input, Label, Select, Static

from doctor.tui import launching, messages
from doctor.tui.run_state import RunState
from doctor.tui.runner_stream import RunProcess, launch
from doctor.tui.widgets.mode_bar import ModeBar
from doctor.tui.widgets.run_log import RunLog
from doctor.tui.widgets.stage_progress import StageBars
from doctor.tui.widgets.validation_table import ValidationTable
from runner.request import DTYPES, Request

DEVICES = ("auto", "cpu", "cuda")
DEFAULTS = Request()  # the runner's own defaults (steps, batch)
MODES = (("new song", "new"), ("edit a song", "edit"), ("continue a song", "continue"))
# the style sources, as (field id, what the errors call it): the runner takes exactly one
STYLE_SOURCES = (("style", "text prompt"), ("ref-audio", "reference clip"), ("style-embedding", "embedding file"),
                 ("style-from", "run folder"))
# the fields that only mean something in some modes
MODE_ROWS = {"song-row": ("edit", "continue"), "spans-row": ("edit",)}
# a `Request` field -> the form field that holds it, where the names differ; fields the form lacks
# (the checkout, the bundle) come from the app's options and the config
FORM_FIELD_OF = {"ref_audio": "ref-audio", "style_embedding": "style-embedding", "style_from": "style-from",
                 "edit": "song", "continue_song": "song", "regenerate": "spans"}


def split_spans(text: str) -> list[str]:
    """The spans field -> one `--regenerate` value per span: `10:25, 50:end` (commas or spaces between
    spans), or upstream's JSON `[[10,25],[50,-1]]` passed whole."""
    stripped = text.strip()
    if stripped.startswith("["):
        return [stripped]
    return [part for part in re.split(r"[,;\s]+", stripped) if part]


class Refuse(Validator):
    """A field check whose message says what is wrong: `check(value)` returns None or the reason."""

    def __init__(self, check) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        why = self.check(value) if value.strip() else None
        return self.failure(why) if why else self.success()


def _file_problem(what: str, suffixes: tuple[str, ...] = ()):
    def check(value: str) -> str | None:
        path = Path(value.strip()).expanduser()
        if not path.is_file():
            return f"no such {what}: {path}"
        if suffixes and path.suffix.lower() not in suffixes:
            return f"{path.name}: expected a {' or '.join(suffixes)} file"
        return None

    return check


def _run_folder_problem(value: str) -> str | None:
    path = Path(value.strip()).expanduser()
    if not path.is_dir():
        return f"not a run folder: {path}"
    if not (path / "style.pt").is_file():
        return f"run folder {path.name} keeps no style.pt"
    return None


def _lrc_preview(path_text: str) -> tuple[str, bool]:
    """The lyrics as the runner will read them (its own torch-free parser and rules), and whether the
    file is usable: timed LRC lines, or plain lines the runner times over the song; never a mix."""
    from runner.errors import BadInput
    from runner.lrc import parse_lrc
    from runner.lyrics_timing import is_untimed, refuse_mixed

    if not path_text.strip():
        return "no lyrics file: an instrumental", True
    path = Path(path_text).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"no such file: {path}", False
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path}: {exc}", False
    try:
        refuse_mixed(text, path.name)
    except BadInput as exc:
        return f"{exc.message}\n  {exc.remedy}", False
    parsed = parse_lrc(text)
    if is_untimed(text):
        words = [issue.lineno for issue in parsed.skipped if issue.untimed]
        return f"{len(words)} untimed lines: the runner times them over the song", True
    lines = [f"{len(parsed.lines)} timed lines" + (f", {len(parsed.skipped)} skipped" if parsed.skipped else "")]
    for line in parsed.lines[:3]:
        lines.append(f"  [{int(line.start // 60):02d}:{line.start % 60:05.2f}] {line.text}")
    if len(parsed.lines) > 3:
        lines.append(f"  … up to [{int(parsed.lines[-1].start // 60):02d}:{parsed.lines[-1].start % 60:05.2f}]")
    for issue in parsed.skipped[:2]:
        lines.append(f"  ! line {issue.lineno}: {issue.message}")
    return "\n".join(lines), bool(parsed.lines)


class GenerateScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="generate.run", priority=True,
                tooltip="Launch the runner with these settings (as `drdoctor generate` does)."),
        Binding("escape", "cancel", "Cancel", id="generate.cancel",
                tooltip="Send SIGINT to the run; it stops at a safe point and can be resumed."),
        Binding("ctrl+t", "resume", "Resume", id="generate.resume", priority=True,
                tooltip="Resume the cancelled or failed run, reusing what it had finished."),
        Binding("ctrl+e", "toggle_view", "Form/Run", id="generate.toggle", priority=True,
                tooltip="Switch between the settings form and the run's progress."),
    ]

    HELP = "generate"
    AUTO_FOCUS = "#lyrics"

    def __init__(self) -> None:
        super().__init__()
        self.state = RunState()
        self.process: RunProcess | None = None
        self.running = False
        self._dirty_stages: set[str] = set()
        self._new_checks: list[dict] = []
        self._warnings_dirty = False
        self._log_lines: list[str] = []

    # ---------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        opts = self.app.options
        yield ModeBar("generate")
        with ContentSwitcher(initial="form", id="generate-switcher"):
            with VerticalScroll(id="form"):
                with Horizontal(classes="field"):
                    yield Label("Lyrics", classes="field-label")
                    yield Input(opts.lyrics or "", compact=True, placeholder="path to an .lrc file (empty: instrumental)",
                                id="lyrics", validators=[Function(lambda v: _lrc_preview(v)[1], "unusable lyrics file")])
                yield Static("", id="lrc-preview")
                with Horizontal(classes="field"):
                    yield Label("Style", classes="field-label")
                    yield Input(opts.style or "", compact=True, placeholder="text prompt, e.g. 'pop, piano, female vocal'", id="style")
                with Horizontal(classes="field"):
                    yield Label("Ref clip", classes="field-label")
                    yield Input(compact=True, placeholder="or a reference audio clip (>= 10 s)", id="ref-audio",
                                validators=[Function(lambda v: not v.strip() or Path(v).expanduser().is_file(),
                                                     "no such audio file")])
                with Horizontal(classes="field"):
                    yield Label("Embedding", classes="field-label")
                    yield Input(compact=True, placeholder="or a saved style vector (.npy/.pt, [1, 512])",
                                id="style-embedding", validators=[Refuse(_file_problem("embedding file", (".npy", ".pt")))])
                with Horizontal(classes="field"):
                    yield Label("From run", classes="field-label")
                    yield Input(compact=True, placeholder="or reuse the style of a run folder (runs/<id>)",
                                id="style-from", validators=[Refuse(_run_folder_problem)])
                with Horizontal(classes="field"):
                    yield Label("Mode", classes="field-label")
                    yield Select(MODES, compact=True, value="new", allow_blank=False, id="mode")
                    yield Label("Batch", classes="field-label short-label")
                    yield Input(str(DEFAULTS.batch), compact=True, id="batch", classes="short", type="integer",
                                tooltip="candidates sampled together: NAME-1.wav ... (seed + k - 1)")
                with Horizontal(classes="field -hidden", id="song-row"):
                    yield Label("Song", classes="field-label")
                    yield Input(compact=True, placeholder="the song to edit or continue (.wav)", id="song",
                                validators=[Refuse(_file_problem("song file"))])
                with Horizontal(classes="field -hidden", id="spans-row"):
                    yield Label("Spans", classes="field-label")
                    yield Input(compact=True, placeholder="seconds to regenerate, e.g. 10:25, 50:end", id="spans")
                with Horizontal(classes="field"):
                    yield Label("Length s", classes="field-label")
                    yield Input(compact=True, placeholder="default", id="length", classes="short", type="number",
                                valid_empty=True)
                    yield Label("Seed", classes="field-label short-label")
                    yield Input(compact=True, placeholder="random", id="seed", classes="short", type="integer",
                                valid_empty=True, tooltip="empty: a random seed, which the run records and shows")
                    yield Label("Steps", classes="field-label short-label")
                    yield Input(str(DEFAULTS.steps), compact=True, id="steps", classes="short", type="integer")
                with Horizontal(classes="field"):
                    yield Label("Device", classes="field-label")
                    yield Select([(d, d) for d in DEVICES], compact=True, value="auto", allow_blank=False, id="device")
                    yield Label("Dtype", classes="field-label short-label")
                    yield Select([(d, d) for d in DTYPES], compact=True, value="auto", allow_blank=False, id="dtype")
                yield Static("", id="recommendation")
                with Horizontal(classes="field"):
                    yield Label("Output", classes="field-label")
                    yield Input(opts.out, compact=True, id="out", validators=[Function(_out_ok, "the output folder does not exist")])
                    yield Label("Run in", classes="field-label short-label")
                    yield Select([("this machine", "local"), ("container", "container")], compact=True,
                                 value="container" if opts.container else "local", allow_blank=False, id="where")
                yield Static("", id="form-errors")
                yield Button("Run (ctrl+r)", id="run-button", variant="primary")
            with VerticalScroll(id="run"):
                yield Static("no run yet: fill the form and press ctrl+r", id="run-title")
                yield StageBars(id="stages")
                yield Static("", id="outcome")
                yield ValidationTable(id="validation")
                yield Static("", id="warnings")
                yield RunLog(id="run-log")
        yield Footer()

    def on_mount(self) -> None:
        self._update_preview(self.query_one("#lyrics", Input).value)
        self._show_mode_rows()
        self.show_recommendation()
        self.set_interval(1 / 15, self._redraw, name="render run")

    # ---------------------------------------------------------------- the form
    def show_recommendation(self) -> None:
        rec = launching.recommended(getattr(self.app, "report", None))
        if rec is None:
            self.query_one("#recommendation", Static).update("device/dtype: auto (the checkup's advice shows here)")
            return
        device, dtype, why = rec
        if device in DEVICES:
            self.query_one("#device", Select).value = device
        if dtype in DTYPES:
            self.query_one("#dtype", Select).value = dtype
        self.query_one("#recommendation", Static).update(f"recommended: {device}/{dtype} ({why})")

    @on(Input.Changed, "#lyrics")
    def _lyrics_changed(self, event: Input.Changed) -> None:
        self._update_preview(event.value)

    def _update_preview(self, value: str) -> None:
        text, ok = _lrc_preview(value)
        preview = self.query_one("#lrc-preview", Static)
        preview.update(text)
        preview.set_class(not ok, "-invalid")

    @on(Input.Changed)
    def _field_changed(self, event: Input.Changed) -> None:
        self._show_errors()

    @property
    def song_mode(self) -> str:
        return str(self.query_one("#mode", Select).value)

    @on(Select.Changed, "#mode")
    def _mode_changed(self, event: Select.Changed) -> None:
        self._show_mode_rows()
        self._show_errors()

    def _show_mode_rows(self) -> None:
        """Edit shows the song and the spans, continue the song, a new song neither."""
        for row, modes in MODE_ROWS.items():
            self.query_one(f"#{row}").set_class(self.song_mode not in modes, "-hidden")
        self.query_one("#length", Input).placeholder = "required" if self.song_mode == "continue" else (
            "the song's" if self.song_mode == "edit" else "default")

    def form_errors(self) -> list[str]:
        """The problems as the form lists them: "Steps: --steps 1: need at least 2"."""
        return [self._error_line(wid, message) for wid, message in self.field_errors()]

    def _error_line(self, wid: str | None, message: str) -> str:
        return f"{self._label(wid)}: {message}"

    def field_errors(self) -> list[tuple[str | None, str]]:
        """(form field id or None, message) for each problem: the fields' own checks (files, lyrics, spans),
        then the runner's own `Request` validation of the arguments the form would launch."""
        errors: list[tuple[str | None, str]] = []
        for field in self.query("#form Input").results(Input):
            if field.parent is not None and field.parent.has_class("-hidden"):
                continue  # not used in this mode
            result: ValidationResult | None = field.validate(field.value)
            if result is not None and not result.is_valid:
                errors.extend((field.id, d) for d in result.failure_descriptions)
        value = lambda wid: self.query_one(f"#{wid}", Input).value.strip()  # noqa: E731
        mode = self.song_mode
        if mode in ("edit", "continue") and not value("song"):
            errors.append(("song", f"{mode} needs the song file"))
        if mode == "continue" and not value("length"):
            errors.append(("length", "continue needs the new length, in seconds"))
        given = [what for wid, what in STYLE_SOURCES if value(wid)]
        if len(given) > 1:
            errors.append(("style", f"give one style source, not {' + '.join(given)}"))
        errors.extend(e for e in self._request_errors() if e not in errors)
        return errors

    def _request_errors(self) -> list[tuple[str | None, str]]:
        """The runner's judgement (`runner.request`: its parser and `problems`) of the arguments the form
        would launch; the checkout comes from the options and the config, or the image in a container."""
        from runner.errors import BadInput
        from runner.request import problems, unvalidated

        fields = self.request_args()
        for name in ("edit", "continue_song"):  # a missing song is the form's own error (above): judge the rest
            if fields[name] == "":
                fields[name] = "SONG"
        sources = [wid.replace("-", "_") for wid, _ in STYLE_SOURCES if fields[wid.replace("-", "_")]]
        for name in sources[1:]:  # two style sources are the form's own error too (argparse stops at the pair)
            fields[name] = None
        args = launching.runner_args(self.app.options, **fields)
        try:
            request, _ = unvalidated(args)
        except BadInput as exc:  # argparse: "bad arguments: argument --steps: invalid int value: 'x'"
            found = re.search(r"argument (--[\w-]+)", exc.message)
            return [(self._form_field(launching.field_of_option(found.group(1))) if found else None, exc.message)]
        in_container = self.query_one("#where", Select).value == "container"
        return [(self._form_field(name), exc.message if self._form_field(name) else f"{exc.message} ({exc.remedy})")
                for name, exc in problems(request) if not (in_container and name == "diffrhythm")]

    def _form_field(self, request_field: str) -> str | None:
        """The form field that holds a `Request` field; None for one the form does not have."""
        wid = FORM_FIELD_OF.get(request_field, request_field.replace("_", "-"))
        return wid if self.query(f"#form #{wid}") else None

    def _label(self, wid: str | None) -> str:
        """What the form calls a field: the label in front of it."""
        if wid is None:
            return "run"
        field = self.query_one(f"#{wid}")
        siblings = list(field.parent.children) if field.parent is not None else []
        labels = [w for w in siblings[: siblings.index(field)] if isinstance(w, Label)]
        return str(labels[-1].render()).strip() if labels else wid

    def _show_errors(self) -> list[tuple[str | None, str]]:
        errors = self.field_errors()
        box = self.query_one("#form-errors", Static)
        text = "\n".join(self._error_line(wid, message) for wid, message in errors)
        box.update(Text(text, style="bold red") if errors else Text("ready to run", style="green"))
        bad = {wid for wid, _ in errors}
        for field in self.query("#form Input").results(Input):  # the runner's refusals mark their field too
            field.set_class(field.id in bad, "-invalid")
            field.set_class(field.id not in bad, "-valid")
        return errors

    def request_args(self) -> dict:
        """The form as the runner's request fields (`launching.FORM_FIELDS`), as typed: the runner's own
        parser reads the numbers; empty fields (a random seed) and fields the mode hides are left out."""
        value = lambda wid: self.query_one(f"#{wid}", Input).value.strip()  # noqa: E731
        mode = self.song_mode
        return {
            "lyrics": value("lyrics") or None,
            "style": value("style") or None,
            "ref_audio": value("ref-audio") or None,
            "style_embedding": value("style-embedding") or None,
            "style_from": value("style-from") or None,
            "edit": value("song") if mode == "edit" else None,
            "regenerate": split_spans(value("spans")) if mode == "edit" else [],
            "continue_song": value("song") if mode == "continue" else None,
            "batch": value("batch") if value("batch") not in ("", str(DEFAULTS.batch)) else None,
            "length": value("length") or None,
            "seed": value("seed") or None,
            "steps": value("steps") or None,
            "device": str(self.query_one("#device", Select).value),
            "dtype": str(self.query_one("#dtype", Select).value),
            "out": value("out"),
        }

    # ---------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "cancel":
            return self.running
        if action == "resume":
            return not self.running and self.state.resumable
        if action == "run":
            return not self.running
        return True

    @on(Button.Pressed, "#run-button")
    def action_run(self) -> None:
        if self.running:
            return
        errors = self._show_errors()
        if errors:
            self.query_one(ContentSwitcher).current = "form"
            first, message = errors[0]
            more = f" (and {len(errors) - 1} more, listed above the Run button)" if len(errors) > 1 else ""
            self.notify(f"fix the form first: {self._error_line(first, message)}{more}", severity="error")
            target = self.query_one(f"#{first}") if first else self.query_one("#form-errors")
            target.scroll_visible(animate=False, top=True)
            if first:
                target.focus()
            return
        if self.query_one("#where", Select).value == "container":
            self.start(launching.container_args(self.app.options, **self.request_args()), module="doctor")
        else:
            self.start(launching.runner_args(self.app.options, **self.request_args()))

    def fill(self, style_from: str | None = None, edit: str | None = None) -> None:
        """Put a run picked in the runs history into the form: its folder as the only style source, or its
        song in edit mode (the spans still to give)."""
        self.query_one(ContentSwitcher).current = "form"
        if style_from is not None:
            for wid, _ in STYLE_SOURCES:  # exactly one style source
                self.query_one(f"#{wid}", Input).value = style_from if wid == "style-from" else ""
            self.query_one("#style-from", Input).focus()
            self.notify(f"style from {Path(style_from).name}; the other style fields are cleared")
        if edit is not None:
            self.query_one("#mode", Select).value = "edit"
            self._show_mode_rows()
            self.query_one("#song", Input).value = edit
            self.query_one("#spans", Input).focus()
        self._show_errors()

    def action_resume(self) -> None:
        if self.running or not self.state.run:
            return
        self.start(launching.resume_args(self.app.options, self.state.run))

    def resume_run(self, run_id: str) -> None:
        """Resume a run picked in the runs history."""
        if not self.running:
            self.start(launching.resume_args(self.app.options, run_id))

    def action_cancel(self) -> None:
        if self.process is not None and self.running:
            self.process.interrupt()
            self.query_one("#run-title", Static).update(Text("cancelling: SIGINT sent…", style="bold yellow"))

    def action_toggle_view(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "run" if switcher.current == "form" else "form"
        self.query_one("#lyrics" if switcher.current == "form" else "#run").focus()

    # ---------------------------------------------------------------- the run
    def start(self, args: list[str], module: str = "runner") -> None:
        """Launch `python -m runner ARGS` and show its progress (`module`: another event source, for the
        benchmark)."""
        self.state = RunState()
        self.running = True
        self._dirty_stages.clear()
        self._new_checks.clear()
        self._log_lines = []
        self.query_one(StageBars).show(self.state)
        self.query_one(ValidationTable).reset()
        self.query_one(RunLog).reset()
        self.query_one("#warnings", Static).update("")
        self.query_one("#outcome", Static).update("")
        self.query_one("#outcome", Static).set_classes("")
        self.query_one("#run-title", Static).update("starting the runner…")
        self.query_one(ContentSwitcher).current = "run"
        self.process = None
        self.refresh_bindings()
        self._stream(launching.python(self.app.options), args, module)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False, name="runner")
    def _stream(self, python: str, args: list[str], module: str) -> None:
        process = launch(python, args, self.post_message, module=module)
        if process is not None:
            self.process = process
            process.stream()

    def on_unmount(self) -> None:
        if self.process is not None and self.running:
            self.process.interrupt()  # the runner stops at a safe point; the run stays resumable

    def on_run_launched(self, message: messages.RunLaunched) -> None:
        self.query_one("#run-title", Static).update(f"runner started (pid {message.pid})")

    # Handlers only fold the event into the state and note what changed; `_redraw` (a 15 Hz timer, and
    # at once for rare events) redraws what changed. So a runner writing thousands of events a second
    # costs a dict update each, and the widgets are redrawn at most 15 times a second.
    def on_stage_progress(self, message: messages.StageProgress) -> None:
        self.state.apply(message.event)
        self._dirty_stages.add(str(message.event.get("stage")))

    def on_run_event(self, message: messages.RunEvent) -> None:
        event = message.event
        kind = self.state.apply(event)
        if kind in ("stage_started", "stage_finished", "error"):
            self._dirty_stages.add(str(event.get("stage")))
        if kind == "run_started":
            self.query_one("#run-title", Static).update(
                f"run {self.state.run} · {self.state.device}/{self.state.dtype} · seed {self.state.request.get('seed')}")
        elif kind == "check":
            self._new_checks.append(self.state.checks[-1])
        elif kind == "warning":
            self._warnings_dirty = True
        elif kind in ("error", "run_finished"):
            self._redraw()
            self._show_outcome()

    def on_run_log(self, message: messages.RunLog) -> None:
        self._log_lines.extend(message.lines)

    def on_run_exited(self, message: messages.RunExited) -> None:
        self.state.exited(message.returncode, message.stderr_tail)
        self.running = False
        self._dirty_stages.update(self.state.stages)
        self._redraw()
        self._show_outcome()
        self.refresh_bindings()
        self.app.post_message(messages.RunsChanged())

    def _redraw(self) -> None:
        """Redraw what changed since the last call."""
        if self._dirty_stages:
            bars = self.query_one(StageBars)
            for stage in self._dirty_stages:
                bars.show(self.state, stage)
            self._dirty_stages.clear()
        if self._new_checks:
            table = self.query_one(ValidationTable)
            for check in self._new_checks:
                table.add_check(check)
            self._new_checks.clear()
        if self._warnings_dirty:
            self._show_warnings()
            self._warnings_dirty = False
        if self._log_lines:
            self.query_one(RunLog).write_lines(self._log_lines)
            self._log_lines = []

    def _show_warnings(self) -> None:
        lines = [f"! {w.get('stage') or '-'}: {w.get('message')}" for w in self.state.warnings[-4:]]
        self.query_one("#warnings", Static).update(Text("\n".join(lines), style="yellow"))

    def _show_outcome(self) -> None:
        state, box = self.state, self.query_one("#outcome", Static)
        run_dir = Path(self.app.options.run_dir) / state.run if state.run else None
        if state.cancelled:
            box.set_classes("-cancelled")
            text = Text()
            text.append(f"cancelled in {state.failed_stage or 'a stage'}", style="bold")
            text.append(" (exit 130): resumable, press ctrl+t")
            if state.error and state.error.get("remedy"):
                text.append(f"\n{state.error['remedy']}")
            if run_dir:
                text.append(f"\nrun folder {run_dir}")
            box.update(text)
        elif state.error is not None or (state.done and not state.ok):
            error = state.error or {}
            box.set_classes("-failed")
            text = Text()
            text.append(f"FAILED in {state.failed_stage or '?'}", style="bold")
            text.append(f" (exit {state.exit_code if state.exit_code is not None else error.get('code', '?')})\n")
            text.append(str(error.get("message") or "the runner ended without saying why; see the stderr log"))
            if error.get("remedy"):
                text.append(f"\nremedy: {error['remedy']}")
            if state.resumable:
                text.append("\nresumable: press ctrl+t")
            box.update(text)
        elif state.ok:
            box.set_classes("-ok")
            outputs = (state.finished or {}).get("outputs")
            lines = [f"done: {state.output}"] if not outputs else [f"done: {len(outputs)} candidates written"]
            lines += [_candidate_line(state, path) for path in outputs or []]
            lines += [f"  ✗ candidate {k} failed: {why}" for k, why in _failed_candidates(state).items()]
            facts = _audio_facts(state)
            if facts:
                lines.append(facts)
            if state.seconds is not None:
                lines.append(f"took {state.seconds:.1f} s" + (f" · run folder {run_dir}" if run_dir else ""))
            box.update("\n".join(lines))


def _candidate_line(state: RunState, path: str) -> str:
    """One written candidate of a batch: its index (from its `artifact` event), path, peak and loudness."""
    k = next((a.get("candidate") for a in state.artifacts if a.get("kind") == "wav" and str(a.get("path")) == path), None)
    facts = []
    for label, name, unit in (("peak", "peak", ""), ("loudness", "rms_dbfs", " dBFS")):
        value = next((c.get("value") for c in reversed(state.checks)
                      if c.get("name") == name and c.get("candidate") == k), None) if k is not None else None
        if isinstance(value, (int, float)):
            facts.append(f"{label} {value:.3g}{unit}")
    head = f"  #{k} {path}" if k is not None else f"  {path}"
    return head + (" · " + " · ".join(facts) if facts else "")


def _failed_candidates(state: RunState) -> dict[int, str]:
    """Candidate index -> why it was not written (its failed `check` events; warnings do not count)."""
    failed: dict[int, list[str]] = {}
    for check in state.checks:
        k = check.get("candidate")
        if isinstance(k, int) and not check.get("ok") and check.get("severity", "fail") == "fail":
            failed.setdefault(k, []).append(str(check.get("message") or check.get("name")))
    return {k: "; ".join(dict.fromkeys(why)) for k, why in sorted(failed.items())}


def _audio_facts(state: RunState) -> str:
    """Duration (from the manifest), peak and loudness (from the validation checks) of a finished song."""
    parts = []
    manifest = state.artifact("manifest")
    if manifest:
        try:
            length = json.loads(Path(manifest).read_text(encoding="utf-8")).get("length_s")
        except (OSError, ValueError):
            length = None
        if isinstance(length, (int, float)):
            parts.append(f"duration {length:.1f} s")
    if (state.finished or {}).get("outputs"):
        return " · ".join(parts)  # a batch: each candidate's peak and loudness are on its own line
    for label, name, unit in (("peak", "peak", ""), ("loudness", "rms_dbfs", " dBFS RMS")):
        check = state.check(name)
        if check is not None and isinstance(check.get("value"), (int, float)):
            parts.append(f"{label} {check['value']:.3g}{unit}")
    return " · ".join(parts)


def _out_ok(text: str) -> bool:
    if not text.strip():
        return False
    parent = Path(text).expanduser().parent
    return parent.is_dir()
