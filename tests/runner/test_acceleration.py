"""runner.acceleration on the tiny bundle's real DiT: compiled for real by inductor (g++), a compiler that
fails, a compiler that is missing, and what `--accel auto` decides for which network."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _runner_helpers import REPO, runner_env

from runner.acceleration import (
    CompiledDiT,
    accelerate,
    compiler_problem,
    plan_acceleration,
)
from runner.bundle.load import load_bundle
from runner.sampler import sample

COMPILE_SKIP_S = 30.0  # a first compile slower than this here is not a fast test


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    import torch._dynamo

    torch._dynamo.reset()  # no compiled code of an earlier test is reused
    yield
    torch._dynamo.reset()


def bundle_dit(bundle_dir: Path) -> torch.nn.Module:
    return load_bundle(bundle_dir, device=torch.device("cpu"), dtype=torch.float32, parts=("dit",)).transformer


def song(frames: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(3)
    return (torch.zeros(1, frames, 64), torch.randint(1, 40, (frames,), generator=gen),
            torch.randn(1, 512, generator=gen), torch.randn(1, 512, generator=gen),
            torch.tensor([0.0]), torch.tensor([1.0]))


def test_the_compiled_dit_samples_the_same_song_and_keeps_its_cache_in_the_given_folder(
        bundle_dir, tmp_path, monkeypatch):
    if compiler_problem():
        pytest.skip(f"inductor cannot compile here: {compiler_problem()}")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "placeholder")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")  # restored (unset) after the test; accelerate sets it
    net = bundle_dit(bundle_dir)
    inputs = song(128)
    eager = sample(net, *inputs, steps=4, seed=5)
    warnings: list[str] = []
    cache = tmp_path / "drdoctor-cache" / "inductor"
    compiled, state = accelerate(net, "compile", 4, cache, warnings.append)
    assert isinstance(compiled, CompiledDiT) and list(compiled.parameters()) == list(net.parameters())
    start = time.monotonic()
    out = sample(compiled, *inputs, steps=4, seed=5)
    seconds = time.monotonic() - start
    if seconds > COMPILE_SKIP_S:
        pytest.skip(f"the first compile of the tiny DiT took {seconds:.0f} s here (> {COMPILE_SKIP_S:.0f} s)")
    print(f"\nfirst compile + 3 steps of the bundle's DiT: {seconds:.1f} s (first call {state.first_call_s} s)")
    assert warnings == [] and state.fallback is None
    assert state.first_call_s is not None and state.first_call_s > 0
    rel = float((out - eager).norm() / eager.norm())
    assert rel < 1e-4, f"compiled float32 latents differ from eager by {rel:.2e}"
    written = [p for p in cache.rglob("*") if p.is_file()]
    assert written, f"nothing was cached in {cache}"
    assert any("fxgraph" in p.parts for p in written), sorted({p.parent.name for p in written})


FALLBACK_SCRIPT = """
import json, sys, torch
from runner.acceleration import accelerate
from runner.bundle.load import load_bundle
from runner.sampler import sample
net = load_bundle(sys.argv[1], device=torch.device("cpu"), dtype=torch.float32, parts=("dit",)).transformer
gen = torch.Generator().manual_seed(3)
args = (torch.zeros(1, 64, 64), torch.randint(1, 40, (64,), generator=gen), torch.randn(1, 512, generator=gen),
        torch.randn(1, 512, generator=gen), torch.tensor([0.0]), torch.tensor([1.0]))
eager = sample(net, *args, steps=3, seed=1)
warnings = []
compiled, state = accelerate(net, "compile", 3, sys.argv[2], warnings.append)
out = sample(compiled, *args, steps=3, seed=1)
print(json.dumps({"same": bool(torch.equal(out, eager)), "warnings": warnings, "record": state.record(),
                  "wrapped": compiled is not net}))
"""


def test_a_compiler_that_fails_falls_back_to_eager_with_a_warning_and_the_same_song(bundle_dir, tmp_path):
    env = runner_env(tmp_path)
    env["CXX"] = "/bin/false"  # a C++ compiler that exists and fails: inductor's codegen fails for real
    env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path / "fresh-cache")  # nothing compiled before
    proc = subprocess.run([sys.executable, "-c", FALLBACK_SCRIPT, str(bundle_dir), str(tmp_path / "unused")],
                          check=False, capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["wrapped"] and result["same"]
    assert len(result["warnings"]) == 1 and result["warnings"][0].startswith("torch.compile failed (")
    assert "eager" in result["warnings"][0]
    assert result["record"]["fallback"] and result["record"]["compiled"] is False


def test_a_missing_compiler_is_found_before_compiling(bundle_dir, tmp_path):
    import torch._inductor.config as inductor_config

    net = bundle_dit(bundle_dir)
    warnings: list[str] = []
    with inductor_config.patch({"cpp.cxx": (None, "no-such-cxx-drdoctor")}):
        out, state = accelerate(net, "compile", 32, tmp_path, warnings.append)
    assert out is net
    assert state.fallback and "no C++ compiler 'no-such-cxx-drdoctor'" in state.fallback
    assert len(warnings) == 1 and "g++" in warnings[0] and "eager" in warnings[0]


BF16, FP32 = torch.bfloat16, torch.float32


# calls: DiT calls per guided step (eager on the CPU: two calls, measured faster than one batch of two rows)
@pytest.mark.parametrize(("asked", "device", "dtype", "params", "steps", "compiled", "every", "calls"), [
    ("auto", "cpu", BF16, 1_100_000_000, 32, True, 1, 1),  # the real DiT over a song on an AMX CPU: it pays
    ("auto", "cpu", BF16, 1_100_000_000, 5, False, 1, 2),  # too few steps to win the compile back
    ("auto", "cpu", BF16, 300_000, 32, False, 1, 2),  # the tiny bundle: never worth a compile
    ("auto", "cpu", FP32, 1_100_000_000, 32, False, 1, 2),  # float32 (a CPU without AMX): measured 1.0-1.2x
    ("auto", "cuda", torch.float16, 1_100_000_000, 32, False, 1, 1),  # not measured on a GPU
    ("off", "cpu", BF16, 1_100_000_000, 32, False, 1, 2),
    ("compile", "cpu", FP32, 300_000, 4, True, 1, 1),
    ("cfg-reuse", "cpu", FP32, 300_000, 32, True, 2, 1),  # opt-in: applies whatever the size
    ("cfg-reuse-3", "cpu", BF16, 1_100_000_000, 32, True, 3, 1),
])
def test_what_each_accel_choice_applies(asked, device, dtype, params, steps, compiled, every, calls):
    state = plan_acceleration(asked, device, dtype, params, steps)
    assert (state.compiled, state.guidance_every, state.lossy) == (compiled, every, every > 1)
    assert state.record()["guidance_calls"] == calls
    assert state.reason


def test_reused_guidance_runs_the_unguided_rows_every_other_step_and_stays_near_the_full_song(bundle_dir):
    net = bundle_dit(bundle_dir)
    rows: list[int] = []
    net.register_forward_pre_hook(lambda _m, _args, kwargs: rows.append(kwargs["x"].shape[0]), with_kwargs=True)
    inputs = song(128)
    full = sample(net, *inputs, steps=9, seed=2)
    assert rows == [2] * 8
    errors = []
    for every, pattern in ((2, [2, 1] * 4), (3, [2, 1, 1] * 2 + [2, 1])):  # a quarter / a third fewer DiT rows
        rows.clear()
        reused = sample(net, *inputs, steps=9, seed=2, guidance_every=every)
        assert rows == pattern
        errors.append(float((reused - full).norm() / full.norm()))
    # near, not equal, and reusing longer strays further (real size: tests/bench/bench_realsize.py)
    assert 0 < errors[0] < errors[1] < 8e-2, errors
    with pytest.raises(ValueError, match="guidance_every"):
        sample(net, *inputs, steps=3, guidance_every=0)


def _manifest(result) -> dict:
    return json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))


def _latents(result) -> torch.Tensor:
    return torch.load(result.folder / "latents.pt", weights_only=True)["latents"]


def test_a_song_records_its_acceleration_and_a_forced_compile_keeps_the_song(run_runner, tmp_path):
    if compiler_problem():
        pytest.skip(f"inductor cannot compile here: {compiler_problem()}")
    auto = run_runner("--dtype", "float32", out=tmp_path / "auto.wav")
    assert auto.code == 0, auto.stderr[-2000:]
    record = _manifest(auto)["acceleration"]
    assert (record["asked"], record["compiled"], record["lossy"]) == ("auto", False, False)
    assert "bfloat16 on the CPU only" in record["reason"]  # float32: auto does not compile

    forced = run_runner("--dtype", "float32", "--accel", "compile", out=tmp_path / "compiled.wav", timeout=240)
    assert forced.code == 0, forced.stderr[-2000:]
    record = _manifest(forced)["acceleration"]
    assert record["compiled"] and not record["lossy"] and record["fallback"] is None and record["first_call_s"] > 0
    table = [c for c in forced.of("check") if c["stage"] == "validate" and c["name"] == "acceleration"]
    assert len(table) == 1 and table[0]["ok"] and "compiled" in table[0]["message"]
    rel = float((_latents(forced) - _latents(auto)).norm() / _latents(auto).norm())
    assert rel < 1e-4, f"the compiled song's latents moved by {rel:.2e}"
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "inductor" in p.parts]
    assert cached, "the compiler cache is not in drdoctor's cache folder"


def test_the_lossy_cfg_reuse_lever_is_opt_in_and_named_in_the_validation_table(run_runner, tmp_path):
    if compiler_problem():
        pytest.skip(f"inductor cannot compile here: {compiler_problem()}")
    result = run_runner("--dtype", "float32", "--accel", "cfg-reuse", timeout=240)
    assert result.code == 0, result.stderr[-2000:]
    manifest = _manifest(result)
    record = manifest["acceleration"]
    assert record["guidance_every"] == 2 and record["lossy"] and record["compiled"]
    table = [c for c in result.of("check") if c["stage"] == "validate" and c["name"] == "acceleration"]
    assert len(table) == 1 and not table[0]["ok"] and table[0]["severity"] == "warn"
    assert "LOSSY" in table[0]["message"] and "every 2 steps" in table[0]["message"]
    assert [c["name"] for c in manifest["validation"]].count("acceleration") == 1
    assert result.out.exists()  # lossy is not failed: the song is written
