"""`torch.reinstall`: the torch build this driver and GPU can run, in the target environment.

Reasons it is needed: a CPU build (`+cpu`) where a working NVIDIA driver is, a CUDA build the driver cannot
start (a newer CUDA major, or below the minor-version-compatibility floor), a build without kernels for the
GPU's compute capability, or a torch newer than 2.11 in an environment holding muq (MuQ-MuLan, the style
encoder), which imports torchaudio, whose last release pairs with torch 2.11. A build the driver runs through
minor-version compatibility (cu126 on a CUDA 12.4 driver) fits: it is not replaced by an older torch, and
without a working driver any installed build fits (it runs on the CPU; with no torch, the CPU build is
installed). The build comes from the wheel table (`doctor/wheels.py`, `data/torch_cuda.json`): the newest torch whose CUDA
variant the driver supports and that has code for the GPU (cu118 for drivers that stop at CUDA 11.8, and so
on), at most 2.11 when muq is there, with the torchaudio of the same release where one exists (none for
torch 2.12+), from `https://download.pytorch.org/whl/<variant>` (or `--index-url` / `--find-links`).

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
from doctor.fixes.plan import CommandStep, Plan, edit, read_for_edit
from doctor.ini import split_lines
from runner.textfile import BOM

FIX_ID = "torch.reinstall"
TITLE = "install the torch build this NVIDIA driver and GPU can run"


def _fmt(version: tuple[int, ...] | None) -> str:
    return ".".join(str(n) for n in version) if version else "?"


def needs_torchaudio(ctx: FixContext) -> bool:
    """muq (the style encoder) imports torchaudio: keep torch at a release that has one, unless the user
    named a release with --torch-version."""
    return "muq" in ctx.packages and not ctx.torch_version


def installed_fits(ctx: FixContext) -> str | None:
    """Why the installed build already fits (a sentence), or None when it does not."""
    if ctx.torch_build is None:
        return None
    version, variant = ctx.torch_build
    base = version.split("+", 1)[0]
    if ctx.torch_version and wheels.version_tuple(base)[:2] != wheels.version_tuple(ctx.torch_version)[:2]:
        return None
    if needs_torchaudio(ctx) and wheels.expected_torchaudio(base) is None:
        return None
    if ctx.driver_cuda is None:
        return f"torch {base}+{variant} runs on the CPU, and no working NVIDIA driver is seen"
    cuda = wheels.variant_cuda(variant)
    runs = wheels.driver_runs(cuda, ctx.driver_cuda, ctx.driver_version) if cuda else "no"
    if runs == "no":
        return None
    arch = wheels.arch_set(base, variant)
    if ctx.compute_capability and arch is not None and not arch.runs_on(ctx.compute_capability):
        return None
    gpu = f", with code for sm_{_fmt(ctx.compute_capability).replace('.', '')}" if ctx.compute_capability else ""
    how = (" through minor-version compatibility (a newer NVIDIA driver, not an older torch, is what "
           "torch.compile and new PTX need)") if runs == "mvc" else ""
    return f"torch {base}+{variant} runs on this driver (CUDA {_fmt(ctx.driver_cuda)}){gpu}{how}"


def _requirement_lines(text: str) -> list[tuple[int, Requirement]]:
    found = []
    for index, line in enumerate(split_lines(text)):
        body = line.removeprefix(BOM).split("#", 1)[0].strip()
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
    if problem := ctx.target_unusable():
        return Plan(FIX_ID, TITLE, blocked=problem)
    done = installed_fits(ctx)
    if done:
        return _torchaudio_only(ctx, done)
    choice = wheels.choose_variant(ctx.driver_cuda, ctx.torch_version, ctx.compute_capability,
                                   needs_torchaudio=needs_torchaudio(ctx))
    if choice.variant == "cpu" and ctx.driver_cuda is not None:
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
    want_audio = bool(have_audio) or "muq" in ctx.packages
    if requirements is not None:
        text, _ = read_for_edit(requirements)
        if text is not None:
            lines = split_lines(text)
            changed = []
            for index, req in _requirement_lines(text):
                name = req.name.lower()
                ending = lines[index][len(lines[index].rstrip("\r\n")):]
                bom = BOM if lines[index].startswith(BOM) else ""  # a UTF-8 BOM on the first line stays
                if name == "torchaudio":
                    want_audio = True
                if name == "torch" and not _allows(req, torch_pin):
                    lines[index] = f"{bom}torch=={choice.torch_version}{ending}"
                    changed.append(f"{req} -> torch=={choice.torch_version}")
                elif name == "torchaudio" and audio_version and not _allows(req, audio_version):
                    lines[index] = f"{bom}torchaudio=={audio_version}{ending}"
                    changed.append(f"{req} -> torchaudio=={audio_version}")
                elif name == "torchaudio" and audio_version is None:
                    lines[index] = f"{bom}# {lines[index].removeprefix(BOM).rstrip(chr(13) + chr(10))}  # drdoctor: no torchaudio release exists for torch {choice.torch_version}{ending}"
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
        notes.append(_no_torchaudio_note(ctx, choice.torch_version))
    elif needs_torchaudio(ctx) and ctx.torch_build and wheels.expected_torchaudio(ctx.torch_build[0]) is None:
        notes.append(
            f"muq (MuQ-MuLan, the style encoder) imports torchaudio, whose last release pairs with torch 2.11: "
            f"torch {choice.torch_version} with torchaudio {audio_version} replaces torch {ctx.torch_build[0]} so "
            f"styles can be computed (upstream's own scripts import torchaudio too)"
        )
    notes.append(
        "chosen from the wheel table: "
        + (f"driver CUDA {_fmt(ctx.driver_cuda)}" if ctx.driver_cuda else "no working NVIDIA driver")
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
    notes = (fits, _no_torchaudio_note(ctx, base)) if expected is None and "muq" in ctx.packages else (fits,)
    if expected is None and audio:
        step = CommandStep(
            (*ctx.pip_cmd(), "uninstall", "-y", "torchaudio"),
            f"remove torchaudio {audio} (no torchaudio release exists for torch {base}: it was built for another "
            "torch and fails to load)",
        )
        return Plan(FIX_ID, TITLE, steps=(step,), notes=notes)
    if expected is None:
        return Plan(FIX_ID, TITLE, done_reason="; ".join(notes))
    if audio is not None:
        audio_base, _, audio_tag = audio.partition("+")
        if audio_base == expected and (not audio_tag or audio_tag == variant):
            return Plan(FIX_ID, TITLE, done_reason=f"{fits}; torchaudio {audio} matches it")
    argv = [*ctx.pip_cmd(), "install", f"torchaudio=={expected}+{variant}", *ctx.pip.args(default_index=wheels.index_url(variant))]
    what = f"torchaudio {audio}" if audio else "no torchaudio"
    step = CommandStep(tuple(argv), f"replace {what} with torchaudio {expected}+{variant}, the build paired with torch {base}", timeout=3600)
    return Plan(FIX_ID, TITLE, steps=(step,), notes=(fits,))


def _no_torchaudio_note(ctx: FixContext, torch_version: str) -> str:
    """What going without torchaudio means (torch 2.12+), and how to get one."""
    how = ("leave out --torch-version: with muq installed the fix picks the newest torch up to 2.11 this driver "
           "runs, with its torchaudio") if "muq" in ctx.packages else "pass --torch-version 2.11 (torch 2.11 + torchaudio 2.11)"
    return (
        f"no torchaudio exists for torch {torch_version} (the last pairs with torch 2.11): drdoctor's runner loads "
        f"DiffRhythm's networks without it, but computing a style needs it (muq, MuQ-MuLan's package, imports it), "
        f"and so do upstream's own scripts; for them, {how}"
    )
