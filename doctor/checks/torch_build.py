"""torch.*: is the target environment's torch the build this machine's driver and GPU can run."""

from __future__ import annotations

import re

from doctor import wheels
from doctor.checks.gpu import cuda_text
from doctor.checks.registry import check
from doctor.facts import Facts
from doctor.findings import Finding, Status


def install_command(facts: Facts, needs_torchaudio: bool = False) -> str:
    """The pip command that installs the build the table picks for this driver and GPU (with
    `needs_torchaudio`, or muq in the environment (it imports torchaudio, as the torch.reinstall fix
    judges): a release that has a torchaudio, and that torchaudio)."""
    needs_torchaudio = needs_torchaudio or "muq" in facts.python.packages
    g = facts.gpu
    capability = next((d.compute_capability for d in g.devices if d.compute_capability), None)
    choice = wheels.choose_variant(g.cuda_driver if g.driver_works else None, None, capability,
                                   needs_torchaudio=needs_torchaudio)
    audio = wheels.expected_torchaudio(choice.torch_version) if needs_torchaudio else None
    return (
        f"{facts.python.python} -m pip install 'torch=={choice.torch_version}+{choice.variant}' "
        + (f"'torchaudio=={audio}+{choice.variant}' " if audio else "")
        + f"--index-url {choice.index_url}"
    )


def _unreadable(check_id: str, facts: Facts) -> Finding | None:
    py = facts.python
    if py.error:
        return Finding(check_id, Status.FAIL if check_id == "torch.build" else Status.SKIP,
                       f"cannot read the packages of {py.python}", py.error)
    if py.torch is None:
        if check_id != "torch.build":
            return Finding(check_id, Status.SKIP, f"no torch in {py.python}")
        return Finding(
            "torch.build", Status.FAIL, f"torch is not installed in {py.python}",
            f"Install the build that fits this machine: {install_command(facts)}", fix="torch.reinstall",
        )
    return None


@check("torch.build", "python", "gpu")
def build(facts: Facts) -> Finding:
    if problem := _unreadable("torch.build", facts):
        return problem
    t, g = facts.python.torch, facts.gpu
    seen = f"torch {t.version} in {facts.python.python}"
    if t.variant == "cpu" and g.driver_works:
        return Finding(
            "torch.build", Status.FAIL, f"{seen} is a CPU-only build, but an NVIDIA GPU with a working driver is here",
            f"Generation would run on the CPU (tens of minutes instead of about a minute). Install the CUDA "
            f"build: {install_command(facts)}", fix="torch.reinstall",
        )
    if t.hip:
        return Finding("torch.build", Status.WARN, f"{seen} is a ROCm build", "It cannot use NVIDIA GPUs; on AMD GPUs drdoctor is untested.")
    if t.cuda and not g.driver_works:
        return Finding(
            "torch.build", Status.INFO, f"{seen} is a CUDA {t.cuda} build, but no working NVIDIA driver is here",
            "It runs on the CPU. A CPU build is several GB smaller: " + install_command(facts),
        )
    kind = f"CUDA {t.cuda} build" if t.cuda else "CPU build"
    if facts.python.deep and facts.python.deep.error:
        return Finding("torch.build", Status.FAIL, f"{seen}: importing torch fails", facts.python.deep.error, fix="torch.reinstall")
    return Finding("torch.build", Status.OK, f"{seen} ({kind})")


@check("torch.cuda_match", "python", "gpu", "platform")
def cuda_match(facts: Facts) -> Finding:
    if problem := _unreadable("torch.cuda_match", facts):
        return problem
    t, g = facts.python.torch, facts.gpu
    if not t.cuda:
        return Finding("torch.cuda_match", Status.SKIP, f"torch {t.version} is not a CUDA build")
    if g.cuda_driver is None:
        return Finding("torch.cuda_match", Status.SKIP, "no NVIDIA driver to match the build against")
    built = wheels.version_tuple(t.cuda)[:2]
    driver = g.cuda_driver
    seen = f"torch {t.version} needs CUDA {t.cuda}; the driver {g.driver_version} supports {cuda_text(driver)}"
    linux_numbers = g.driver_version if facts.platform.kind != "wsl2" else None
    runs = wheels.driver_runs(built, driver, linux_numbers)
    if runs == "full":
        return Finding("torch.cuda_match", Status.OK, seen)
    requirement = wheels.driver_requirement(built)
    if built[0] > driver[0]:
        # On WSL2 the driver is Windows': its numbers are not Linux's, and it is updated on Windows.
        wsl2 = facts.platform.kind == "wsl2"
        needed = f" (Linux driver >= {wheels.driver_text(requirement[1])})" if requirement and not wsl2 else ""
        return Finding(
            "torch.cuda_match", Status.FAIL, seen,
            f"A CUDA {built[0]}.x build needs a CUDA {built[0]}.x driver{needed}: torch.cuda.is_available() is False "
            f"and the first CUDA call fails with 'The NVIDIA driver on your system is too old'. Update the driver"
            f"{' on Windows' if wsl2 else ''}, or install a build this driver runs: {install_command(facts)}",
            fix="torch.reinstall",
        )
    if runs == "no":
        return Finding(
            "torch.cuda_match", Status.FAIL, seen,
            f"Driver {g.driver_version} is below the CUDA {built[0]}.x minor-version-compatibility floor "
            f"{wheels.driver_text(requirement[1])}: CUDA will not start. Update the driver or run: {install_command(facts)}",
            fix="torch.reinstall",
        )
    toolkit = f" (the CUDA {t.cuda} driver is {wheels.driver_text(requirement[0])})" if requirement else ""
    # No fix id: this build works, and the build the table would pick instead is an older torch.
    return Finding(
        "torch.cuda_match", Status.WARN, seen + toolkit,
        "It runs through NVIDIA's minor-version compatibility: eager CUDA code (inference) works. What can break "
        "is code compiled at run time: PTX newer than the driver fails with CUDA error "
        "222 ('the provided PTX was compiled with an unsupported toolchain'), and torch.compile's Triton may need "
        "a newer driver than the build's CUDA. The remedy is updating the NVIDIA driver"
        + (f" to {wheels.driver_text(requirement[0])} or newer" if requirement else "")
        + "; an older torch is not needed.",
    )


def _arch_from_deep(arch_list: tuple[str, ...]) -> wheels.ArchSet | None:
    sass, ptx = [], []
    for item in arch_list:
        found = re.fullmatch(r"(sm|compute)_(\d+)(\d)", item)
        if found:
            (sass if found.group(1) == "sm" else ptx).append((int(found.group(2)), int(found.group(3))))
    return wheels.ArchSet(tuple(sass), max(ptx) if ptx else None) if sass or ptx else None


@check("torch.arch", "python", "gpu")
def arch(facts: Facts) -> Finding:
    if problem := _unreadable("torch.arch", facts):
        return problem
    t, g = facts.python.torch, facts.gpu
    if not t.cuda:
        return Finding("torch.arch", Status.SKIP, f"torch {t.version} is not a CUDA build")
    gpus = [d for d in g.devices if d.compute_capability]
    if not gpus:
        return Finding("torch.arch", Status.SKIP, "no GPU with a known compute capability")
    deep = facts.python.deep
    archs = _arch_from_deep(deep.arch_list) if deep and deep.arch_list else wheels.arch_set(t.version, t.variant)
    if archs is None:
        return Finding("torch.arch", Status.SKIP, f"the GPU code list of torch {t.version} is not in the table",
                       "Run `drdoctor check --deep` to ask torch itself.")
    bad = [d for d in gpus if not archs.runs_on(d.compute_capability)]
    if not bad:
        return Finding("torch.arch", Status.OK, f"torch {t.version} has GPU code for {', '.join(d.name for d in gpus)} ({archs.describe()})")
    d = bad[0]
    cc = d.compute_capability
    age = "too new" if cc > max(archs.sass, default=(0, 0)) else "too old"
    return Finding(
        "torch.arch", Status.FAIL,
        f"{d.name} (compute capability {cc[0]}.{cc[1]}) is {age} for torch {t.version} ({archs.describe()})",
        "CUDA starts, then every kernel fails with 'no kernel image is available for execution on the device'. "
        f"Install a build with code for it: {install_command(facts)}", fix="torch.reinstall",
    )


@check("torch.torchaudio_pair", "python", "gpu")
def torchaudio_pair(facts: Facts) -> Finding:
    """torchaudio matters twice: muq (MuQ-MuLan, the style encoder) imports it when loaded, and so does the
    checkout's model/modules.py (for training-time code only; drdoctor's runner loads the networks without it)."""
    if problem := _unreadable("torch.torchaudio_pair", facts):
        return problem
    t, python = facts.python.torch, facts.python.python
    audio = facts.python.packages.get("torchaudio")
    muq = facts.python.packages.get("muq")
    expected = wheels.expected_torchaudio(t.version)
    style = ("muq (MuQ-MuLan, the style encoder) imports torchaudio when it loads: without a working torchaudio no "
             "style can be computed, from a text prompt or a reference clip (only a style cached by an earlier run works)")
    if expected is None and muq:
        stale = f" The torchaudio {audio} here was built for an older torch and fails to load." if audio else ""
        return Finding(
            "torch.torchaudio_pair", Status.FAIL, f"torch {t.version} has no torchaudio, which muq {muq} needs",
            f"{style}. No torchaudio release exists for torch 2.12 or newer; the last is 2.11.{stale} Install torch "
            "2.11 (or the newest older release this driver runs) with its torchaudio: "
            + install_command(facts, needs_torchaudio=True),
            fix="torch.reinstall",
        )
    if expected is None:
        networks = ("drdoctor's runner loads DiffRhythm's networks without torchaudio (upstream's model/modules.py "
                    "imports it for training-time code only, so upstream's infer.py stops there), but computing a "
                    "style with MuQ-MuLan needs it: the muq package imports torchaudio, and torch 2.11 is the last "
                    "release that has one.")
        if audio:
            return Finding(
                "torch.torchaudio_pair", Status.WARN, f"torchaudio {audio} is installed beside torch {t.version}",
                "No torchaudio release exists for torch 2.12 or newer, so this one was built for an older torch and "
                f"fails when loaded: `{python} -m pip uninstall torchaudio`. {networks}",
            )
        return Finding("torch.torchaudio_pair", Status.INFO, f"no torchaudio (none exists for torch {t.version})", networks)
    if audio is None:
        if muq:
            return Finding(
                "torch.torchaudio_pair", Status.FAIL, f"torchaudio is not installed, and muq {muq} needs it (torch {t.version})",
                f"{style}. Install the release paired with this torch: torchaudio=={expected} from the index torch came from.",
                fix="torch.reinstall",
            )
        return Finding(
            "torch.torchaudio_pair", Status.WARN, f"torchaudio is not installed (torch {t.version})",
            "Upstream's model/modules.py imports it at import time, and so does muq (the style encoder) once "
            f"installed. drdoctor's runner loads the networks without it; install the matching release: "
            f"torchaudio=={expected} from the same index as torch.",
            fix="torch.reinstall",
        )
    audio_base, _, audio_tag = audio.partition("+")
    if audio_base != expected or (audio_tag and audio_tag != t.variant):
        return Finding(
            "torch.torchaudio_pair", Status.FAIL, f"torchaudio {audio} does not match torch {t.version}",
            f"torchaudio is built against one exact torch; this pair fails at import with undefined symbols. "
            f"Install torchaudio=={expected}+{t.variant} from the index torch came from.", fix="torch.reinstall",
        )
    return Finding("torch.torchaudio_pair", Status.OK, f"torchaudio {audio} matches torch {t.version}")
