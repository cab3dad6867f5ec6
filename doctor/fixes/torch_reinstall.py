"""`torch.reinstall`: the torch build this driver and GPU can run, in the target environment.

Reasons it is needed: a CPU build (`+cpu`) where a working NVIDIA driver is, a CUDA build newer than the
driver supports, or a build without kernels for the GPU's compute capability. The build comes from the
wheel table (`doctor/wheels.py`, `data/torch_cuda.json`): the newest torch whose CUDA variant the driver
supports and that has code for the GPU (cu118 for drivers that stop at CUDA 11.8, and so on), with the
torchaudio of the same release where one exists (none for torch 2.12+), from
`https://download.pytorch.org/whl/<variant>` (or `--index-url` / `--find-links`).

The install pins the exact build (`torch==2.13.0+cu126`): pip then replaces the installed build itself,
and puts the old one back if the new one fails to install (an uninstall step first could not be undone).
A torchaudio that cannot match is uninstalled. Pins in the checkout's `requirements.txt` that would fight
the new build (e.g. `torchaudio==2.6.0`) are rewritten to match, with a backup.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from doctor import wheels
from doctor.fixes.context import FixContext
from doctor.fixes.ini import split_lines
from doctor.fixes.plan import CommandStep, Plan, edit, read_for_edit

FIX_ID = "torch.reinstall"
TITLE = "install the torch build this NVIDIA driver and GPU can run"


def _fmt(version: tuple[int, ...] | None) -> str:
    return ".".join(str(n) for n in version) if version else "?"


def installed_fits(ctx: FixContext) -> str | None:
    """Why the installed build already fits (a sentence), or None when it does not."""
    if ctx.torch_build is None or ctx.driver_cuda is None:
        return None
    version, variant = ctx.torch_build
    base = version.split("+", 1)[0]
    if ctx.torch_version and wheels.version_tuple(base)[:2] != wheels.version_tuple(ctx.torch_version)[:2]:
        return None
    cuda = wheels.variant_cuda(variant)
    if cuda is None or cuda > ctx.driver_cuda:
        return None
    arch = wheels.arch_set(base, variant)
    if ctx.compute_capability and arch is not None and not arch.runs_on(ctx.compute_capability):
        return None
    gpu = f", with code for sm_{_fmt(ctx.compute_capability).replace('.', '')}" if ctx.compute_capability else ""
    return f"torch {base}+{variant} runs on this driver (CUDA {_fmt(ctx.driver_cuda)}){gpu}"


def _requirement_lines(text: str) -> list[tuple[int, Requirement]]:
    found = []
    for index, line in enumerate(split_lines(text)):
        body = line.split("#", 1)[0].strip()
        if not body or body.startswith("-"):
            continue
        try:
            found.append((index, Requirement(body)))
        except InvalidRequirement:
            continue
    return found


def _allows(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def plan(ctx: FixContext) -> Plan:
    if not ctx.python:
        return Plan(FIX_ID, TITLE, blocked="no target Python: pass --python (DiffRhythm's environment)")
    if ctx.python_error:
        return Plan(FIX_ID, TITLE, blocked=f"cannot read the target environment: {ctx.python_error}")
    if ctx.driver_cuda is None:
        return Plan(FIX_ID, TITLE, blocked="no working NVIDIA driver seen: a CPU build is the right one here")
    done = installed_fits(ctx)
    if done:
        return _torchaudio_only(ctx, done)
    choice = wheels.choose_variant(ctx.driver_cuda, ctx.torch_version, ctx.compute_capability)
    if choice.variant == "cpu":
        gpu = f" and GPU sm_{_fmt(ctx.compute_capability).replace('.', '')}" if ctx.compute_capability else ""
        return Plan(FIX_ID, TITLE, blocked=(
            f"no CUDA build in the wheel table runs on this driver (CUDA {_fmt(ctx.driver_cuda)}){gpu}: "
            "update the NVIDIA driver, or see `drdoctor fix container.use`"
        ))
    torch_pin = f"{choice.torch_version}+{choice.variant}"
    audio_version = wheels.expected_torchaudio(choice.torch_version)
    have_audio = ctx.packages.get("torchaudio")
    notes: list[str] = []
    current = f"torch {ctx.torch_build[0]}" if ctx.torch_build else "no torch"
    if ctx.torch_build and "+" not in ctx.torch_build[0]:
        current += f" ({ctx.torch_build[1]})"

    # The checkout's requirements.txt: rewrite pins that would fight the new build.
    steps: list = []
    requirements = ctx.diffrhythm / "requirements.txt" if ctx.diffrhythm else None
    want_audio = bool(have_audio)
    if requirements is not None:
        text, _ = read_for_edit(requirements)
        if text is not None:
            lines = split_lines(text)
            changed = []
            for index, req in _requirement_lines(text):
                name = req.name.lower()
                ending = lines[index][len(lines[index].rstrip("\r\n")):]
                if name == "torchaudio":
                    want_audio = True
                if name == "torch" and not _allows(req, torch_pin):
                    lines[index] = f"torch=={choice.torch_version}{ending}"
                    changed.append(f"{req} -> torch=={choice.torch_version}")
                elif name == "torchaudio" and audio_version and not _allows(req, audio_version):
                    lines[index] = f"torchaudio=={audio_version}{ending}"
                    changed.append(f"{req} -> torchaudio=={audio_version}")
                elif name == "torchaudio" and audio_version is None:
                    lines[index] = f"# {lines[index].rstrip(chr(13) + chr(10))}  # drdoctor: no torchaudio release exists for torch {choice.torch_version}{ending}"
                    changed.append(f"{req} commented out (no torchaudio for torch {choice.torch_version})")
            if changed:
                notes.append(f"{requirements} pins {'; '.join(changed)}: rewritten so a later `pip install -r` does not undo this fix")
                step = edit(requirements, "".join(lines), f"pin torch consistently in {requirements}")
                if step:
                    steps.append(step)

    argv = [*ctx.pip_cmd(), "install", f"torch=={torch_pin}"]
    if want_audio and audio_version:
        argv.append(f"torchaudio=={audio_version}+{choice.variant}")
    argv += ctx.pip.args(default_index=choice.index_url)
    hint = ("" if ctx.pip.overridden else
            f"when {choice.index_url} cannot be reached from here, download the wheels on a machine that can "
            f"(pip download torch=={torch_pin} --index-url {choice.index_url} -d DIR) and pass --find-links DIR")
    steps.append(CommandStep(tuple(argv), f"replace {current} with torch {torch_pin} in {ctx.python}", timeout=3600, hint=hint))
    if want_audio and audio_version is None and have_audio:
        steps.append(CommandStep(
            (*ctx.pip_cmd(), "uninstall", "-y", "torchaudio"),
            f"remove torchaudio {have_audio} (built for another torch; no release exists for torch {choice.torch_version})",
        ))
    if want_audio and audio_version is None:
        notes.append(
            f"torchaudio's last release pairs with torch 2.11; drdoctor's runner needs no torchaudio, but upstream's "
            f"own scripts import it: for them, pass --torch-version 2.11 (torch 2.11.0 + torchaudio 2.11.0)"
        )
    notes.append(
        f"chosen from the wheel table: driver CUDA {_fmt(ctx.driver_cuda)}"
        + (f", GPU sm_{_fmt(ctx.compute_capability).replace('.', '')}" if ctx.compute_capability else "")
        + f" -> torch {choice.torch_version} {choice.variant} ({choice.index_url})"
    )
    return Plan(FIX_ID, TITLE, steps=tuple(steps), notes=tuple(notes))


def _torchaudio_only(ctx: FixContext, fits: str) -> Plan:
    """torch fits; make torchaudio match it (install the paired build, or remove one that cannot match)."""
    version, variant = ctx.torch_build
    base = version.split("+", 1)[0]
    expected = wheels.expected_torchaudio(base)
    audio = ctx.packages.get("torchaudio")
    if expected is None and audio:
        step = CommandStep(
            (*ctx.pip_cmd(), "uninstall", "-y", "torchaudio"),
            f"remove torchaudio {audio} (no torchaudio release exists for torch {base}; inference does not need it)",
        )
        return Plan(FIX_ID, TITLE, steps=(step,), notes=(fits,))
    if expected is None:
        return Plan(FIX_ID, TITLE, done_reason=fits)
    if audio is not None:
        audio_base, _, audio_tag = audio.partition("+")
        if audio_base == expected and (not audio_tag or audio_tag == variant):
            return Plan(FIX_ID, TITLE, done_reason=f"{fits}; torchaudio {audio} matches it")
    argv = [*ctx.pip_cmd(), "install", f"torchaudio=={expected}+{variant}", *ctx.pip.args(default_index=wheels.index_url(variant))]
    what = f"torchaudio {audio}" if audio else "no torchaudio"
    step = CommandStep(tuple(argv), f"replace {what} with torchaudio {expected}+{variant}, the build paired with torch {base}", timeout=3600)
    return Plan(FIX_ID, TITLE, steps=(step,), notes=(fits,))
