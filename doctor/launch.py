"""Start `python -m runner` in the target interpreter and read its events, without importing torch here.

The target interpreter may be the DiffRhythm environment, which need not have drdoctor installed: a
drdoctor-owned folder holding only our `runner` package (a link to it) is put on its PYTHONPATH, never the
folder drdoctor is installed in (site-packages, whose numpy or torch would shadow the environment's), and
`DRDOCTOR_FAMILIES_DIR` tells it where the family data is. The runner starts in its own session, so
a terminal Ctrl-C reaches only us; we forward it once per press as SIGINT (the runner stops at its
next step boundary, a second press stops it hard).
"""

from __future__ import annotations

import collections
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from doctor import config as config_mod
from runner import hub_env, locations
from runner.events import ExitCode, decode
from runner.family import FAMILIES_ENV, families_dir

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # holds doctor/ and runner/ (site-packages when installed)


def pick_python(explicit: str | None, config: dict[str, Any]) -> str:
    """The interpreter a run uses: `doctor.discovery`'s rule (--python, config, the installed environment, this one)."""
    from doctor.discovery import find_python

    return find_python(Path("/"), explicit, config_mod.get(config, "diffrhythm", "python"), os.environ)[0]


def runner_path(env: dict[str, str] | None = None) -> Path:
    """A folder holding only `runner` (a link to our package; a copy where links cannot be made), made once per
    install location: what goes on the target interpreter's PYTHONPATH. In drdoctor's cache folder, else (an
    unwritable cache) in the system's temporary folder."""
    tag = hashlib.sha256(str(PACKAGE_ROOT).encode()).hexdigest()[:12]
    for base in (locations.cache_dir(env) / "runner-path", Path(tempfile.gettempdir()) / f"drdoctor-{os.getuid()}"):
        try:
            return _runner_folder(base / tag)
        except OSError:
            continue
    raise LaunchError("no folder to put the runner in: drdoctor's cache folder and the temporary folder are not writable")


def _runner_folder(folder: Path) -> Path:
    target = folder / "runner"
    if target.is_symlink() and target.resolve() == (PACKAGE_ROOT / "runner").resolve():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".runner.{os.getpid()}"
    try:
        temporary.symlink_to(PACKAGE_ROOT / "runner", target_is_directory=True)
    except OSError:
        shutil.copytree(PACKAGE_ROOT / "runner", temporary, ignore=shutil.ignore_patterns("__pycache__"))
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    os.replace(temporary, target)  # atomic: a concurrent launch sees the old link or the new one
    return folder


def _config() -> dict[str, Any]:
    try:
        return config_mod.load()
    except config_mod.ConfigError:
        return {}


def runner_env(base: dict[str, str] | None = None, config: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment of a run: the runner (and only it) importable, unbuffered, and HF_HUB_OFFLINE as
    `runner.hub_env` rules from the launcher's environment and the config's `[run] hf_hub_offline`."""
    env = dict(os.environ if base is None else base)
    config = _config() if config is None else config
    parts = [str(runner_path(env))] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    env[FAMILIES_ENV] = str(families_dir(env))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(hub_env.variables(config_mod.get(config, "run", "hf_hub_offline"), env))
    return env


def exit_code_from_returncode(returncode: int) -> int:
    """A runner killed by a signal (negative return code) still gives a documented exit code."""
    if returncode >= 0:
        return returncode
    if -returncode in (signal.SIGINT, signal.SIGTERM):
        return int(ExitCode.CANCELLED)
    return 128 + (-returncode)


class RunnerProcess:
    """One `python -m runner` child: iterate `events()`, then `wait()` for its exit code."""

    def __init__(self, python: str, args: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
                 module: str = "runner"):
        self.argv = [python, "-m", module, *args]
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                cwd=cwd, env=runner_env(env), start_new_session=True,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start {python}: {exc.strerror or exc}") from exc
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr_tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def lines(self) -> Iterator[bytes]:
        assert self.proc.stdout is not None
        yield from self.proc.stdout

    def events(self) -> Iterator[dict[str, Any]]:
        for raw in self.lines():
            event = decode(raw)
            if event is not None:
                yield event

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int:
        returncode = self.proc.wait(timeout=timeout)
        self._stderr_thread.join(timeout=5)
        return exit_code_from_returncode(returncode)


class LaunchError(Exception):
    pass


class ForwardSigint:
    """While active, Ctrl-C in this process becomes SIGINT to the runner (not a KeyboardInterrupt here)."""

    def __init__(self, runner: RunnerProcess):
        self.runner = runner
        self._previous: Any = None

    def __enter__(self) -> "ForwardSigint":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, lambda *_: self.runner.interrupt())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def diagnose_no_events(code: int, stderr_tail: list[str]) -> tuple[int, str, str]:
    """The runner ended without a run_finished event: say why from its stderr."""
    text = "\n".join(stderr_tail)
    if "No module named 'torch'" in text or 'No module named "torch"' in text:
        return int(ExitCode.ENVIRONMENT), "the target Python has no torch", "run `drdoctor check` and `drdoctor fix`"
    if "No module named" in text:
        missing = text.split("No module named", 1)[1].strip().splitlines()[0]
        return int(ExitCode.ENVIRONMENT), f"the target Python lacks a module: {missing}", "run `drdoctor check`"
    if code == 0:
        code = int(ExitCode.FAILURE)
    last = stderr_tail[-1] if stderr_tail else "(no output)"
    return code, f"the runner stopped without reporting an outcome (exit {code}): {last}", \
        "see the run folder's runner.log, or run `drdoctor check`"
