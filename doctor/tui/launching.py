"""How the app builds a run's command line: the same pieces `drdoctor generate` uses.

The form's fields become runner options; `doctor.commands.generate.runner_args` adds the checkout and
model folders, and the interpreter comes from `doctor.discovery`, exactly as for `drdoctor generate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from doctor import config as config_mod
from doctor.discovery import discover
from doctor.tui.options import TuiOptions

FORM_FIELDS = ("lyrics", "style", "ref_audio", "style_embedding", "style_from", "edit", "regenerate", "continue_song",
               "batch", "length", "steps", "seed", "device", "dtype", "out")
# a field whose runner option is not `--` + its name with dashes (the request's own field names)
OPTION_NAMES = {"continue_song": "--continue"}


def field_of_option(option: str) -> str:
    """`--continue` -> "continue_song", `--ref-audio` -> "ref_audio": the request field an option sets."""
    named = {opt: name for name, opt in OPTION_NAMES.items()}
    return named.get(option, option.lstrip("-").replace("-", "_"))


def _config() -> dict[str, Any]:
    try:
        return config_mod.load()
    except config_mod.ConfigError:
        return {}


def python(options: TuiOptions) -> str:
    return discover(python=options.python, config=_config()).python


def _form_args(options: TuiOptions, request: dict[str, Any]) -> list[str]:
    args: list[str] = []
    if options.bundle:
        args += ["--bundle", str(options.bundle)]
    if options.diffrhythm:
        args += ["--diffrhythm", str(options.diffrhythm)]
    if options.models:
        args += ["--models", str(options.models)]
    for name in FORM_FIELDS:
        value = request.get(name)
        option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
        for item in value if isinstance(value, (list, tuple)) else [value]:  # a list: the option repeated
            if item is not None and item != "":
                args += [option, str(item)]
    return args + ["--run-dir", str(options.run_dir)] + list(options.extra_runner_args)


def runner_args(options: TuiOptions, **request: Any) -> list[str]:
    """`python -m runner` arguments for the form's values (lyrics, style, length, seed, ...), named as the
    runner's `Request` fields; a list (`regenerate`) repeats its option."""
    from doctor.commands.generate import runner_args as with_config

    return with_config(_form_args(options, request), _config())


def container_args(options: TuiOptions, **request: Any) -> list[str]:
    """`python -m doctor container run generate --json --host-paths ...`: the same request in the CUDA
    container, whose events come on stdout like the runner's, with this machine's paths in them."""
    return ["container", "run", "generate", "--json", "--host-paths"] + _form_args(options, request)


def resume_args(options: TuiOptions, run: str) -> list[str]:
    """Resume a run folder (or a run id under the run dir); its saved request supplies the rest."""
    folder = Path(run) if "/" in run else Path(options.run_dir) / run
    return ["--resume", str(folder), "--run-dir", str(options.run_dir)]


def recommended(report: Any) -> tuple[str, str, str] | None:
    """(device, dtype, why) from the checkup's `torch.cuda_match` verdict; None before a checkup.

    The dtype stays `auto`: the runner picks it for the device it gets and says why in its events."""
    findings = {f.id: f for f in getattr(report, "findings", None) or []}
    match = findings.get("torch.cuda_match")
    if match is None:
        return None
    # warn: the build runs through minor-version compatibility (TORCH_CUDA.md), so the GPU is still right
    if match.status.value in ("ok", "warn"):
        return "cuda", "auto", f"torch.cuda_match {match.status.value}: {match.title}"
    return "cpu", "auto", f"torch.cuda_match {match.status.value}: {match.title}"
