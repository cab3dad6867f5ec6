"""--batch N: N candidates in one pass, candidate k = a single run with seed + k - 1, a bad one reported by
index without sinking the others, split into passes when memory is short."""

from __future__ import annotations

import json

import torch

from runner.bundle.build import DIT_CONFIG
from runner.bundle.nets import TinyDiT
from runner.sampler import sample


def latents(run) -> torch.Tensor:
    return torch.load(run.folder / "latents.pt", weights_only=True)["latents"]


def test_sampler_rows_equal_single_runs_with_seed_plus_k():
    torch.manual_seed(0)
    dit = TinyDiT(**DIT_CONFIG).eval()
    frames = 40
    args = (dit, torch.zeros(1, frames, 64), torch.randint(0, 30, (frames,)), torch.randn(1, 512), torch.randn(1, 512),
            torch.tensor([0.0]), torch.tensor([frames / 256]))
    batch = sample(*args, steps=6, seed=100, batch=3)
    assert batch.shape == (3, frames, 64)
    for k in range(3):
        single = sample(*args, steps=6, seed=100 + k)
        torch.testing.assert_close(batch[k : k + 1], single, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(batch[0], batch[1])


def test_batch_of_three_with_one_nan_row_writes_two_and_names_the_third(run_runner, tmp_path):
    r = run_runner("--batch", "3", "--fault", "nan_row:2")
    assert r.code == 0, r.stderr
    names = sorted(p.name for p in tmp_path.glob("song*.wav"))
    assert names == ["song-1.wav", "song-3.wav"]
    warned = [e["message"] for e in r.of("warning")]
    assert any(m.startswith("candidate 2 (seed 12)") and "NaN" in m for m in warned)
    finished = r.of("run_finished")[0]
    assert finished["output"] == str(tmp_path / "song-1.wav")
    assert finished["outputs"] == [str(tmp_path / "song-1.wav"), str(tmp_path / "song-3.wav")]
    manifest = json.loads((r.folder / "manifest.json").read_text())
    cands = manifest["candidates"]
    assert [(c["index"], c["seed"], c["ok"]) for c in cands] == [(1, 11, True), (2, 12, False), (3, 13, True)]
    assert "NaN" in cands[1]["failure"] and cands[1]["output"] is None
    assert all(c["checks"] for c in cands) and cands[0]["output"]["path"] == str(tmp_path / "song-1.wav")
    failed = [e for e in r.of("check") if e["stage"] == "validate" and not e["ok"]]
    assert {e["candidate"] for e in failed} == {2}


def test_candidate_k_matches_a_single_run_and_split_passes_change_nothing(run_runner, tmp_path):
    batch = run_runner("--batch", "3", "--dtype", "float32", out=tmp_path / "b.wav")
    single = run_runner("--seed", "13", "--dtype", "float32", out=tmp_path / "s.wav")
    split = run_runner("--batch", "3", "--dtype", "float32", "--fault", "mem_available:1", out=tmp_path / "p.wav")
    assert batch.code == single.code == split.code == 0, batch.stderr + single.stderr + split.stderr
    torch.testing.assert_close(latents(batch)[2:3], latents(single), rtol=1e-5, atol=1e-5)
    memory = [e for e in split.of("check") if e["name"] == "batch_memory"][0]
    assert memory["passes"] == [1, 1, 1] and not memory["ok"]
    assert any("3 passes" in e["message"] for e in split.of("warning"))
    sample_total = [e for e in split.of("stage_started") if e["stage"] == "sample"][0]["total"]
    assert sample_total == 3 * 31
    torch.testing.assert_close(latents(split), latents(batch), rtol=1e-5, atol=1e-5)
    assert json.loads((split.folder / "manifest.json").read_text())["batch"]["passes"] == [1, 1, 1]


def test_every_candidate_failing_is_exit_4_with_no_files(run_runner, tmp_path):
    r = run_runner("--batch", "2", "--fault", "nan_at:3")
    assert r.code == 4 and r.error["stage"] == "sample"
    assert "candidate 1" in r.error["message"] and "candidate 2" in r.error["message"]
    assert not list(tmp_path.glob("song*.wav"))


def test_batch_out_of_range_is_exit_2(run_runner):
    r = run_runner("--batch", "0")
    assert r.code == 2 and "--batch 0" in r.error["message"]


def test_a_long_song_on_the_cpu_is_not_split_for_attention_scores_it_never_holds():
    # upstream's DiT at its real size, the full model's 6144 frames (285 s), bfloat16, both guidance rows
    from runner.batchplan import NetSize, candidate_bytes, plan_batch

    net = NetSize(dim=2048, depth=16, ff_mult=4, heads=32)
    cpu = [candidate_bytes(net, frames, 2, device_type="cpu") for frames in (2048, 6144)]
    assert cpu[1] == 3 * cpu[0]  # linear in the frames: torch's CPU attention never holds heads x frames^2
    assert candidate_bytes(net, 6144, 2, device_type="cuda") > 5 * cpu[1]  # counted where it may be held
    free = 8 * 2**30  # a two-candidate 285 s batch used about 2 x 1.1 GiB above its 2 GiB of weights here
    assert plan_batch(2, net, 6144, 2, free, device_type="cpu").passes == (2,)
    assert len(plan_batch(2, net, 6144, 2, free, device_type="cuda").passes) == 2
