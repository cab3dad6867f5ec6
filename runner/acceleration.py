"""Sampling speed-ups for the DiT (issue 14), decided and applied in one place.

Measured on upstream's real-size DiT (tests/bench/bench_realsize.py, README "Sampling speed"):
- `torch.compile` (inductor) with freezing (the weights folded in as constants and pre-packed for
  oneDNN) is the lever that pays, in bfloat16 on the CPU; its first call compiles (a minute or more on a
  busy 2-core machine; seconds once its cache is warm), so auto uses it only where a song has enough
  steps on a network big enough to win that back;
- int8 dynamic quantization of the Linear layers (torchao or torch.ao) did not pay at real size (slower
  than compiled bfloat16, error 2e-2): not offered;
- `--accel cfg-reuse` / `cfg-reuse-3` (opt-in, lossy): compiled, and the unguided pass runs only every 2nd /
  3rd step, its guidance (pred - null) reused on the steps between (a quarter / a third fewer DiT rows a
  song; 2.4x / 3.2x eager bfloat16's step, latents 7.6e-3 / 1.0e-2 from float32 on random weights);
  recorded in the manifest and named in the validation table.
A compile that fails (no C++ compiler, a compiler error, an unsupported operator) falls back to eager
with a warning: a speed-up never costs a song. The compiler's cache lives in drdoctor's cache folder
(`runner.locations.cache_dir()/inductor`) so the next song reuses the compiled kernels.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from runner.request import ACCEL as ACCEL_CHOICES  # noqa: F401 - the one list of choices, torch-free there

# auto compiles only a network at least this big, for at least this many steps: below, the first
# call's compile (measured 30-60 s at real size) is not won back
AUTO_MIN_PARAMETERS = 100_000_000
AUTO_MIN_STEPS = 8
# the lossy opt-in levels: how often the unguided pass runs
CFG_REUSE_EVERY = {"cfg-reuse": 2, "cfg-reuse-3": 3}


@dataclass
class Accelerated:
    """What was applied, for the manifest: `record()` is its `acceleration` entry."""

    asked: str
    compiled: bool = False
    guidance_every: int = 1  # > 1: the unguided pass every N steps, its guidance reused between (lossy)
    two_calls: bool = False  # the guided and the unguided row as two DiT calls instead of one batch of two
    reason: str = ""
    fallback: str | None = None  # why a compile fell back to eager
    first_call_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def lossy(self) -> bool:
        return self.guidance_every > 1

    def record(self) -> dict[str, Any]:
        return {"asked": self.asked, "compiled": self.compiled and self.fallback is None, "guidance_every": self.guidance_every,
                "guidance_calls": 2 if self.two_calls else 1,
                "lossy": self.lossy, "reason": self.reason, "fallback": self.fallback,
                "first_call_s": self.first_call_s}


def compiler_problem() -> str | None:
    """None when inductor's C++ compiler is on PATH; otherwise why compiling cannot work."""
    try:
        import torch._inductor.config as inductor_config
    except Exception as exc:  # noqa: BLE001 - a torch build without inductor
        return f"torch {torch.__version__} has no inductor ({type(exc).__name__}: {exc})"
    cxx = inductor_config.cpp.cxx[1] if isinstance(inductor_config.cpp.cxx, tuple) else inductor_config.cpp.cxx
    if not cxx or shutil.which(str(cxx)) is None:
        return f"no C++ compiler {cxx!r} on PATH (install g++: `sudo apt-get install g++`)"
    return None


def use_cache(folder: os.PathLike[str] | str) -> str:
    """Inductor's on-disk caches (FX graph, AOT autograd, kernels) in `folder`, unless the user chose their own.

    Importing torch._inductor.config already sets TORCHINDUCTOR_CACHE_DIR to inductor's default (a folder in
    /tmp, lost at reboot), so that default counts as not chosen."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    return os.environ["TORCHINDUCTOR_CACHE_DIR"]


class CompiledDiT(torch.nn.Module):
    """The DiT through torch.compile, called with the same keywords; eager for good when compiling fails.

    The eager network stays the (only) registered submodule, so `parameters()` still names its device and
    dtype. Compiling happens at the first call (inside the sample stage) and after any shape change."""

    def __init__(self, eager: torch.nn.Module, state: Accelerated, warn: Callable[[str], None],
                 freeze: bool = True) -> None:
        super().__init__()
        self.eager = eager
        self.__dict__["_compiled"] = torch.compile(eager, dynamic=False, options={"freezing": freeze})
        self.__dict__["state"] = state
        self.__dict__["_warn"] = warn

    def forward(self, **kwargs: Any) -> torch.Tensor:
        state: Accelerated = self.__dict__["state"]
        if state.fallback is None:
            start = time.monotonic()
            try:
                out = self.__dict__["_compiled"](**kwargs)
            except Exception as exc:  # noqa: BLE001 - any compiler failure: the song goes on in eager mode
                lines = str(exc).strip().splitlines()
                state.fallback = f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:400]
                self.__dict__["_warn"](f"torch.compile failed ({state.fallback}); sampling continues in eager "
                                       "mode, slower (`--accel off` skips compiling)")
            else:
                if state.first_call_s is None:
                    state.first_call_s = round(time.monotonic() - start, 3)
                return out
        return self.eager(**kwargs)


def plan_acceleration(asked: str, device_type: str, dtype: torch.dtype, parameters: int, steps: int) -> Accelerated:
    """What `asked` (one of ACCEL_CHOICES) means for this network and song, before anything is applied.

    Eager on the CPU, the two guidance rows run as two DiT calls: measured on upstream's real-size DiT, float32
    1.19x (AVX-512) and 1.14x (AVX2) faster than one batch of two, bfloat16 1.18x, latents equal to 4e-7.
    Compiled, one batch: a compiled one-row step costs 74 % of a two-row step."""
    state = _plan_compile(asked, device_type, dtype, parameters, steps)
    state.two_calls = device_type == "cpu" and not state.compiled
    return state


def _plan_compile(asked: str, device_type: str, dtype: torch.dtype, parameters: int, steps: int) -> Accelerated:
    """Whether to compile, and how often the unguided pass runs.

    auto compiles only where it was measured to pay: bfloat16 on the CPU (the runner's AMX choice; 1.7-3x a
    step). float32 gained 1.0-1.17x (AVX2) to 1.2x (AVX-512) for a compile of a minute or more, and no GPU
    was measured: eager there unless `--accel compile` is asked."""
    if asked == "off":
        return Accelerated(asked, reason="asked: eager")
    if asked in CFG_REUSE_EVERY:
        every = CFG_REUSE_EVERY[asked]
        return Accelerated(asked, compiled=True, guidance_every=every,
                           reason=f"asked: compiled, the unguided pass every {every} steps (lossy)")
    if asked == "compile":
        return Accelerated(asked, compiled=True, reason="asked")
    if device_type != "cpu" or dtype != torch.bfloat16:
        where = "bfloat16 on the CPU" if device_type == "cpu" else "the CPU"
        return Accelerated(asked, reason=f"compiling was measured to pay on {where} only (`--accel compile` "
                           "to try it)")
    if parameters < AUTO_MIN_PARAMETERS:
        return Accelerated(asked, reason=f"a small network ({parameters / 1e6:.1f} M parameters): compiling "
                           "would cost more than it saves")
    if steps - 1 < AUTO_MIN_STEPS:
        return Accelerated(asked, reason=f"{steps - 1} steps are too few to win back the compile")
    return Accelerated(asked, compiled=True, reason=f"{parameters / 1e9:.2f} B parameters, {steps - 1} steps: "
                       "compiling pays")


def accelerate(transformer: torch.nn.Module, asked: str, steps: int, cache: os.PathLike[str] | str,
               warn: Callable[[str], None]) -> tuple[torch.nn.Module, Accelerated]:
    """The network the sampler should call, and what was applied. Never raises for a lever that cannot apply."""
    param = next(transformer.parameters(), None)
    if param is None:  # an Identity placeholder (a run resumed from its latents)
        return transformer, Accelerated(asked, reason="no DiT loaded")
    count = sum(p.numel() for p in transformer.parameters())
    state = plan_acceleration(asked, param.device.type, param.dtype, count, steps)
    if not state.compiled:
        return transformer, state
    problem = compiler_problem()
    if problem is not None:
        state.fallback = problem
        state.two_calls = param.device.type == "cpu"  # eager after all: as plan_acceleration has it for eager
        warn(f"torch.compile cannot run: {problem}; sampling in eager mode, slower")
        return transformer, state
    use_cache(cache)
    return CompiledDiT(transformer, state, warn), state


# --- the run's hooks: load (apply) and validate (record) ----------------------------------------------


def accelerate_run(run: Any, comps: Any) -> None:
    """Load stage, once the DiT is loaded: wrap it as `--accel` asks; a check event says what was applied."""
    from runner.locations import cache_dir

    request = run.request
    net, state = accelerate(comps.transformer, request.accel, request.steps, cache_dir() / "inductor",
                            lambda message: run.warn("load", message))
    comps.transformer = net
    run.extra_manifest["acceleration"] = state.record()
    run.emitter.emit("check", stage="load", name="acceleration", ok=state.fallback is None, value=describe(state),
                     limit=request.accel, message=state.reason + (f"; not applied: {state.fallback}" if state.fallback
                                                                 else ""), severity="warn")


def note_sampled(run: Any, transformer: torch.nn.Module) -> None:
    """Sample stage, at its end: what the sampling really ran with (a compile may have fallen back on its first
    call), for the manifest and the validation table."""
    state = getattr(transformer, "state", None)
    if isinstance(state, Accelerated):
        run.extra_manifest["acceleration"] = state.record()


def record_acceleration(run: Any) -> None:
    """Validate stage: the sampling's acceleration as a row of the validation table; a lossy lever is named."""
    record = run.extra_manifest.get("acceleration")
    if record is None:  # nothing sampled in this run (resumed from its latents)
        return
    used = "compiled" if record["compiled"] else "eager"
    if record["lossy"]:
        used += f", unguided pass every {record['guidance_every']} steps"
    if record.get("guidance_calls") == 2:
        used += ", guidance as two calls"
    message = (f"DiT sampled {used} (--accel {record['asked']})"
               + (f"; first call {record['first_call_s']:.1f} s" if record["first_call_s"] else "")
               + (f"; compile fell back to eager: {record['fallback']}" if record["fallback"] else "")
               + ("; LOSSY: reused guidance changes the song slightly (relative L2 about 1e-2 from float32 on "
                  "random weights; --accel auto keeps it)" if record["lossy"] else ""))
    check = {"name": "acceleration", "ok": not record["lossy"], "value": used, "limit": record["asked"],
             "message": message, "severity": "warn"}
    run.checks.append(check)
    run.emitter.emit("check", stage="validate", **check)


def describe(state: Accelerated) -> str:
    if state.fallback is not None:
        return "eager"
    return "compile+cfg-reuse" if state.lossy else ("compile" if state.compiled else "eager")


def batched_guidance(run: Any) -> bool:
    """Sample stage: both guidance rows in one DiT call (False: two calls, eager on the CPU)."""
    record = run.extra_manifest.get("acceleration") or {}
    return int(record.get("guidance_calls", 1)) == 1


def guidance_every(run: Any) -> int:
    """Sample stage: how often the unguided pass runs (1 = every step, the default)."""
    record = run.extra_manifest.get("acceleration") or {}
    return int(record.get("guidance_every", 1))
