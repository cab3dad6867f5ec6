"""A model family + this machine -> the install as plans of the fixes' kind (doctor.fixes.plan).

Five parts, in the order they are applied: the checkout, the system packages (the `espeak.install` fix
itself), the environment, the weights, drdoctor's config. Each part is a `Plan`: already done (says why),
blocked (says exactly what cannot be reached and the offline route), or steps. The heavy steps are
drdoctor's own step modules run as commands (`python -m doctor.install.checkout|environment|weights`),
so the fixes' applier streams their output and the plan shows exactly what runs. Nothing here knows a
particular family: everything comes from its data file.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from doctor import config as config_mod
from doctor.fixes.context import FixContext, PipSource, parse_os_release
from doctor.fixes.plan import CommandStep, Plan, edit
from doctor.install import checkout as checkout_mod
from doctor.install import environment as env_mod
from doctor.install.hub_fetch import present
from doctor.install.lock import (
    PYPI,
    EnvironmentSpec,
    SpecError,
    environment_spec,
    read_header,
)
from doctor.install.reach import Reach, hub_endpoint
from doctor.install.weights import OFFLINE_ROUTES, download_commands, wanted_files
from doctor.units import gib
from runner import locations
from runner.family import install_layout

GB = 10**9
CONSENT_BYTES = GB  # downloads above this ask first (as does anything run as root)


@dataclass(frozen=True)
class InstallOptions:
    family_arg: str                      # as given (an id or a path), passed on to the step modules
    family: object                       # runner.family.Family
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    diffrhythm: Path | None = None       # adopt this checkout (read-only)
    models: Path | None = None           # the Hugging Face cache to fill/read (default: the user's)
    variant: str | None = None           # torch variant (default: chosen for the driver and GPU)
    driver_cuda: tuple[int, int] | None = None        # highest CUDA the driver supports (None: no working driver)
    driver_version: str | None = None                 # the Linux driver's number (None on WSL2 or when planned for)
    compute_capability: tuple[int, int] | None = None # the first GPU's
    sources: PipSource = field(default_factory=PipSource)
    tool: str | None = None              # uv or pip
    repair: bool = False
    optional: bool = False               # also the optional weights (full-length model)
    events: Path | None = None
    config_path: Path | None = None


@dataclass
class InstallPlan:
    parts: list[Plan]
    facts: list[str]                     # what the plan was made from: paths, the torch choice and why, space
    big: set[str]                        # fix ids of parts that download over CONSENT_BYTES
    layout: object
    cache: Path
    checkout: Path | None
    reach: Reach = field(default_factory=Reach)
    torch: TorchChoice | None = None

    def header(self) -> str:
        return "\n".join(["drdoctor install: " + self.facts[0], *("  " + f for f in self.facts[1:])]) + "\n"

    def render(self) -> str:
        return "\n".join([self.header()] + [part.render() + "\n" for part in self.parts])


@dataclass(frozen=True)
class TorchChoice:
    """The environment variant for this machine, and why (shown in the plan and in its JSON)."""

    variant: str
    torch: str
    why: str
    on_cpu: bool = False                 # torch computes on the CPU here
    notes: tuple[str, ...] = ()          # what the choice costs, and the better route

    def to_json(self) -> dict:
        return {"variant": self.variant, "torch": self.torch, "why": self.why, "on_cpu": self.on_cpu,
                "notes": list(self.notes)}


def _machine(opts: InstallOptions) -> str:
    if opts.driver_cuda is None:
        return "no working NVIDIA driver found"
    text = f"driver {opts.driver_version + ' ' if opts.driver_version else ''}(CUDA {opts.driver_cuda[0]}." \
           f"{opts.driver_cuda[1]})"
    cap = opts.compute_capability
    return text + (f", GPU sm_{cap[0]}{cap[1]}" if cap else "")


def _lock_bytes(lock: Path) -> tuple[int, int] | None:
    """(torch, CUDA libraries) bytes the lock's header measured; None for an older or unmeasured lock."""
    try:
        weighed = read_header(lock).get("wheel_bytes") or {}
    except SpecError:
        return None
    if weighed.get("unmeasured") or "cuda_libraries" not in weighed:
        return None
    return int(weighed["torch"]), int(weighed["cuda_libraries"])


def choose_variant(opts: InstallOptions, spec: EnvironmentSpec) -> TorchChoice:
    """--torch-variant, else the best variant that has a lock for this driver and GPU (doctor.wheels' rules on
    doctor/data/torch_cuda.json); with none that uses the GPU, the cpu lock, else a PyPI CUDA lock run on the CPU."""
    from doctor import wheels

    if opts.variant:
        chosen = spec.variants.get(opts.variant)
        return TorchChoice(opts.variant, chosen.torch if chosen else "", f"--torch-variant {opts.variant}",
                           on_cpu=wheels.variant_cuda(opts.variant) is None or opts.driver_cuda is None)
    machine = _machine(opts)
    locked = {name: v for name, v in spec.variants.items() if v.lock.is_file()}
    gpu_builds = [(name, v.torch) for name, v in locked.items() if wheels.variant_cuda(name)]
    cap = opts.compute_capability
    best = wheels.best_gpu_fit(gpu_builds, opts.driver_cuda, opts.driver_version, cap)
    fits = [wheels.fit(name, torch, opts.driver_cuda, opts.driver_version, cap) for name, torch in gpu_builds]
    others = "; ".join(f"{f.variant} (torch {f.torch_version}): {f.describe(cap)}" for f in fits
                       if best is None or f.variant != best.variant)
    if best is not None:
        why = (f"{machine} -> {best.variant} (torch {best.torch_version}): {best.describe(cap)}; the best of the "
               f"locked builds (doctor/data/torch_cuda.json)" + (f". Not taken: {others}" if others else ""))
        return TorchChoice(best.variant, best.torch_version, why)
    no_gpu = (f"{machine}: no locked CUDA build uses the GPU ({others}); torch will compute on the CPU"
              if opts.driver_cuda is not None else f"{machine}: torch will compute on the CPU")
    if "cpu" in locked:
        return TorchChoice("cpu", locked["cpu"].torch, f"{no_gpu} -> the lean cpu build", on_cpu=True)
    pypi = [name for name, v in locked.items() if v.from_pypi and wheels.variant_cuda(name)]
    cpu = spec.variants.get("cpu")
    if not pypi:
        return TorchChoice("cpu", cpu.torch if cpu else "", f"{no_gpu} -> the cpu build", on_cpu=True)
    sizes = {name: _lock_bytes(locked[name].lock) for name in pypi}

    def cost(name: str) -> tuple:
        measured = sizes[name]
        return (measured is None, sum(measured) if measured else 0, tuple(-n for n in wheels.version_tuple(locked[name].torch)))

    pick = min(pypi, key=cost)
    v, measured = locked[pick], sizes[pick]
    why = (f"{no_gpu} -> {pick} (torch {v.torch}) from PyPI: there is no cpu lock, and a CUDA build of torch runs on "
           "the CPU" + (f"; the lightest of the PyPI locks ({', '.join(pypi)})" if len(pypi) > 1 else ""))
    cost_note = (f"what that costs: {gib(measured[1])} of CUDA libraries (nvidia-*, cuda-*, triton; measured from the "
                 f"wheels {v.lock.name} pins) downloaded and kept on disk, used only by a GPU (torch itself "
                 f"{gib(measured[0])})") if measured else ("what that costs: the CUDA libraries (nvidia-*, triton) "
                                                         "are downloaded and kept on disk, used only by a GPU")
    lean = (f"the lean cpu lock needs {cpu.index if cpu and cpu.index else 'the PyTorch index'}: where it can be "
            f"reached, run `python -m doctor.install.lock {opts.family.id} --variant cpu` in a drdoctor checkout "
            f"(it writes {cpu.lock if cpu else 'cpu.txt'}), then `drdoctor install`") if cpu else ""
    return TorchChoice(pick, v.torch, why, on_cpu=True, notes=tuple(n for n in (cost_note, lean) if n))


def _step(opts: InstallOptions, module: str, description: str, *args: str, timeout: float | None = None) -> CommandStep:
    return CommandStep((sys.executable, "-m", module, opts.family_arg, *args), description, timeout=timeout)


def plan_checkout(opts: InstallOptions, reach: Reach) -> tuple[Plan, Path | None]:
    family, layout = opts.family, install_layout(opts.family.id, opts.env)
    commit = family.upstream_commit
    fix_id, title = "install.checkout", f"the {family.title} source at {commit[:12]}"
    if opts.diffrhythm is not None:
        folder = opts.diffrhythm
        now = checkout_mod.state(folder)
        markers = [m for m in family.checkout_markers if not (folder / m).is_file()]
        if not now.exists or markers:
            why = "does not exist" if not now.exists else f"lacks {', '.join(markers)}"
            return Plan(fix_id, title, blocked=f"--diffrhythm {folder} {why}: not a {family.title} checkout"), None
        notes = () if now.at(commit) and not now.modified else (
            f"{folder} is {now.describe(commit)}; drdoctor never changes an adopted checkout: the environment's "
            "import check tells whether its code works",)
        return Plan(fix_id, title, notes=notes, done_reason=f"adopting {folder} read-only ({now.describe(commit)})"), folder
    dest = layout.checkout
    now = checkout_mod.state(dest)
    if now.at(commit) and not now.modified:
        return Plan(fix_id, title, done_reason=f"{dest} is {now.describe(commit)}"), dest
    if now.exists and not opts.repair:
        return Plan(fix_id, title, blocked=f"{dest} is {now.describe(commit)}; `drdoctor install --repair` moves it "
                    "aside and clones again"), None
    if reach.source:
        return Plan(fix_id, title, blocked=f"{reach.source}; offline route: copy a checkout of {commit} and pass "
                    "--diffrhythm DIR"), None
    step = _step(opts, "doctor.install.checkout", f"clone {family.upstream_repo} at {commit[:12]} into {dest} (verified)",
                 "--dest", str(dest), *(["--repair"] if opts.repair else []))
    return Plan(fix_id, title, steps=(step,)), dest


def plan_system(opts: InstallOptions) -> Plan:
    from doctor.fixes import espeak_install
    from doctor.fixes.gather import espeak_works
    from doctor.probes._fs import read_text
    from doctor.probes.tools import probe_espeak

    if not opts.family.espeak_voices:
        return Plan(espeak_install.FIX_ID, espeak_install.TITLE, done_reason=f"{opts.family.title} needs no espeak-ng")
    works = espeak_works(probe_espeak(Path("/"), opts.env))
    ctx = FixContext(espeak=works, euid=os.geteuid(), os_release=parse_os_release(read_text(Path("/etc/os-release"))),
                     which=lambda name: shutil.which(name, path=opts.env.get("PATH")))
    return espeak_install.plan(ctx)


def plan_environment(opts: InstallOptions, spec: EnvironmentSpec, variant: str, checkout: Path | None,
                     reach: Reach, checkout_planned: bool) -> Plan:
    layout = install_layout(opts.family.id, opts.env)
    fix_id, title = "install.environment", f"the inference environment ({variant}) in {layout.venv}"
    v = spec.variants.get(variant)
    if v is None:
        return Plan(fix_id, title, blocked=f"the family has no {variant} environment (it has {', '.join(spec.variants)})")
    try:
        lock = env_mod.read_lock(v.lock)
    except SpecError:
        others = [n for n, o in spec.variants.items() if o.lock.is_file()]
        return Plan(fix_id, title, blocked=(
            f"no {variant} lock ({v.lock.name}): it needs {v.index or 'PyPI'}, which could not be reached where the "
            f"locks were generated. Generate it on a connected machine (`python -m doctor.install.lock "
            f"{opts.family.id} --variant {variant}`), or take " +
            (" or ".join(f"--torch-variant {o}" for o in others) or "another variant") +
            (f" ({spec.variants[others[0]].note})" if others else "")))
    notes = ((f"{lock.packages} packages from {lock.path} (exact versions and sha256 hashes): " +
              ", ".join(env_mod.pinned(lock))),
             "built in a new folder under envs/; `env` is switched to it only after the import check passes "
             "(torch " + f"{lock.torch}+{variant}, " + ", ".join(spec.import_check[1:]) +
             (", the checkout's model code" if spec.checkout_import else "") + ")")
    if env_mod.up_to_date(layout.venv, lock) and not opts.repair:
        return Plan(fix_id, title, notes=notes, done_reason=f"{layout.venv} was built from this lock and checked")
    weighed = _lock_bytes(v.lock)
    need, how = (v.disk_bytes, "about {} for the environment (measured)") if v.disk_bytes else (
        (sum(weighed), "at least {} for the environment (its torch and CUDA-library wheels; unpacked it is more)")
        if weighed else (None, ""))
    if need:
        where = _existing(layout.root)
        free = shutil.disk_usage(where).free
        notes += (f"space: {how.format(gib(need))}, {gib(free)} free in {where}",)
        if need > free:
            return Plan(fix_id, title, notes=notes, blocked=f"too little space: {notes[-1].removeprefix('space: ')}")
    if checkout is None and spec.checkout_import:
        return Plan(fix_id, title, notes=notes, blocked="needs the checkout first (its model code is part of the "
                    "import check)")
    if reach.index:
        return Plan(fix_id, title, notes=notes, blocked=f"{reach.index}; offline route: a wheel folder holding the "
                    "lock's files (`--find-links DIR`), or the container")
    args = ["--variant", variant, "--root", str(layout.root)]
    if checkout is not None:
        args += ["--checkout", str(checkout)]
    if opts.tool:
        args += ["--tool", opts.tool]
    if opts.sources.index_url:
        args += ["--index-url", opts.sources.index_url]
    for link in opts.sources.find_links:
        args += ["--find-links", link]
    if opts.repair:
        args.append("--repair")
    step = _step(opts, "doctor.install.environment", f"build the environment from {lock.path.name} and swap it in",
                 *args)
    return Plan(fix_id, title, steps=(step,), notes=notes)


def weights_size(opts: InstallOptions, cache: Path) -> tuple[list, int, bool]:
    """(missing files, bytes they need at least, whether every size is known)."""
    todo = [w for w in wanted_files(opts.family, opts.optional) if present(cache, w, opts.repair) is None]
    known = all(w.size is not None for w in todo)
    need = 0
    for w in todo:
        need += w.size if w.size is not None else w.file.min_bytes
    return todo, need, known


def plan_weights(opts: InstallOptions, cache: Path, reach: Reach) -> tuple[Plan, int]:
    fix_id, title = "install.weights", f"the weights into the Hugging Face cache {cache}"
    todo, need, known = weights_size(opts, cache)
    lines = []
    for role in opts.family.weights:
        if not (role.required or opts.optional):
            lines.append(f"{role.id}: {role.repo} (optional, skipped; --full-weights fetches it)")
            continue
        for f in role.files:
            size = gib(f.size) if f.size is not None else f"size from the Hub (at least {gib(f.min_bytes)})"
            missing = any(w.repo == role.repo and w.name == f.name for w in todo)
            lines.append(f"{role.id}: {role.repo} {f.name}  {size}  {'to download' if missing else 'in place'}")
    if not todo:
        return Plan(fix_id, title, notes=tuple(lines), done_reason="every file is complete in the cache"), 0
    free = shutil.disk_usage(_existing(cache)).free
    space = f"space: {'' if known else 'at least '}{gib(need)} needed, {gib(free)} free in {_existing(cache)}"
    notes = tuple(lines) + (space,)
    if need > free:
        return Plan(fix_id, title, notes=notes, blocked=f"too little space: {space}"), need
    if reach.hub:
        return Plan(fix_id, title, notes=notes, blocked=f"{reach.hub}; {OFFLINE_ROUTES}; on a connected machine: "
                    + "; ".join(download_commands(opts.family, todo))), need
    args = ["--cache", str(cache)]
    if opts.repair:
        args.append("--verify")
    if opts.optional:
        args.append("--optional")
    if opts.events:
        args += ["--events", str(opts.events)]
    step = _step(opts, "doctor.install.weights", f"download {len(todo)} file(s), verified against their sha256", *args)
    return Plan(fix_id, title, steps=(step,), notes=notes), need


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def plan_config(opts: InstallOptions, checkout: Path | None, cache: Path, assume: frozenset[str] = frozenset()) -> Plan:
    """Record what is in place in drdoctor's config; `assume` names the parts ("checkout", "environment",
    "weights") a plan will put in place (for showing the whole plan before anything ran)."""
    from doctor.install.state import installed_state

    path = opts.config_path or config_mod.config_path(opts.env)
    fix_id, title = "install.config", f"record the install in {path}"
    done = installed_state(opts, checkout, cache)
    updates: dict[str, dict] = {}
    if checkout is not None and ("checkout" in assume or done.checkout):
        updates.setdefault("diffrhythm", {})["root"] = str(checkout)
    if "environment" in assume or done.environment:
        updates.setdefault("diffrhythm", {})["python"] = str(install_layout(opts.family.id, opts.env).python)
    if "weights" in assume or done.weights:
        updates["models"] = {"dir": str(cache)}
        updates["run"] = {"hf_hub_offline": True}
    if not updates:
        return Plan(fix_id, title, done_reason="nothing is in place yet to record")
    try:
        new_text = config_mod.updated_text(path, updates)
    except config_mod.ConfigError as exc:
        return Plan(fix_id, title, blocked=str(exc))
    step = edit(path, new_text,
                "record the checkout, the environment's python and the models folder; HF_HUB_OFFLINE from now on")
    if step is None:
        return Plan(fix_id, title, done_reason="the config already records this install")
    return Plan(fix_id, title, steps=(step,))


def make_plan(opts: InstallOptions, reach: Reach) -> InstallPlan:
    family = opts.family
    layout = install_layout(family.id, opts.env)
    cache = opts.models or locations.hf_hub_cache(opts.env)
    facts = [f"{family.title} ({family.id}, {family.path})",
             f"upstream: {family.upstream_repo} at {family.upstream_commit}",
             f"install folder: {layout.root} (checkout, env, envs/)",
             f"Hugging Face cache: {cache}"]
    checkout_plan, checkout = plan_checkout(opts, reach)
    parts = [checkout_plan, plan_system(opts)]
    big: set[str] = set()
    try:
        spec = environment_spec(family)
        torch = choose_variant(opts, spec)
        facts.append(f"torch build: {torch.why}")
        paired = spec.variants.get(torch.variant)
        if paired is not None and paired.torchaudio:
            facts.append(f"  torchaudio {paired.torchaudio} paired with torch {paired.torch} (muq imports it; each "
                         "torchaudio release works with one torch release only)")
        facts.extend(f"  {note}" for note in torch.notes)
        env_plan = plan_environment(opts, spec, torch.variant, checkout, reach, bool(checkout_plan.steps))
        if env_plan.steps and not opts.sources.find_links:
            big.add(env_plan.fix_id)  # torch and its CUDA libraries: several GB
    except SpecError as exc:
        torch = None
        env_plan = Plan("install.environment", "the inference environment", blocked=str(exc))
    parts.append(env_plan)
    weights_plan, need = plan_weights(opts, cache, reach)
    if weights_plan.steps and need > CONSENT_BYTES:
        big.add(weights_plan.fix_id)
    parts.append(weights_plan)
    unreachable = [why for why in (reach.source, reach.hub, reach.index) if why]
    if unreachable:
        facts.append("cannot reach: " + " | ".join(unreachable))
    will = frozenset(name for name, part in (("checkout", checkout_plan), ("environment", env_plan),
                                             ("weights", weights_plan)) if not part.blocked)
    parts.append(plan_config(opts, checkout, cache, will))
    return InstallPlan(parts, facts, big, layout, cache, checkout, reach, torch)


def index_urls(opts: InstallOptions, spec: EnvironmentSpec | None, variant: str | None) -> list[str]:
    """The package indexes the environment step will use (for the reachability probe)."""
    if opts.sources.overridden:
        return [u for u in (opts.sources.index_url, *opts.sources.find_links) if u]
    urls = [PYPI]
    if spec is not None and variant in spec.variants and spec.variants[variant].index:
        urls.append(spec.variants[variant].index)
    return urls


def needed_hub(opts: InstallOptions) -> str | None:
    cache = opts.models or locations.hf_hub_cache(opts.env)
    todo, _, _ = weights_size(opts, cache)
    return hub_endpoint(opts.env) if todo else None
