"""What the app is pointed at: the checkup's options and where and how runs are launched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TuiOptions:
    checkup: Any = None  # the options object `run_checkup` takes (root, target python, ...); None = defaults
    fix: Any = None  # `doctor.fixes.gather.FixOptions` flags for planning fixes (host RAM, ...); None = defaults
    python: str | None = None  # the interpreter that runs `-m runner` (None: config, then this one)
    diffrhythm: str | None = None
    models: str | None = None
    bundle: str | None = None  # a tiny test bundle instead of a checkout (`python -m runner.bundle build`)
    run_dir: Path = Path("runs")
    out: str = "song.wav"
    lyrics: str | None = None  # prefill of the generate form
    style: str | None = None
    container: bool = False  # run in the CUDA container instead of a local subprocess
    autostart_checkup: bool = True
    extra_runner_args: list[str] = field(default_factory=list)  # e.g. ["--fault", "nan_at:3"] in tests
    install_args: list[str] = field(default_factory=list)  # more `drdoctor install` arguments (--torch-variant ...)

    def install_argv(self) -> list[str]:
        """The arguments of the app's `drdoctor install`: the folders the app is pointed at, then `install_args`."""
        args = ["--diffrhythm", self.diffrhythm] if self.diffrhythm else []
        args += ["--models", self.models] if self.models else []
        return args + list(self.install_args)
