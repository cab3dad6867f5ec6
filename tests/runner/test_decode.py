"""Chunked VAE decode with the bundle's real TorchScript VAE: tiling, equality with whole decode, OOM fallback."""

import pytest
import torch

from runner.bundle.faults import FaultyVAE
from runner.decode import decode, plan_windows
from runner.errors import OutOfMemory


@pytest.mark.parametrize("frames", [1, 50, 128, 129, 200, 300, 1000])
def test_plan_tiles_every_frame_once(frames):
    plan = plan_windows(frames, 128, 32)
    kept = [f for _, _, ks, ke in plan for f in range(ks, ke)]
    assert kept == list(range(frames))
    for ws, we, ks, ke in plan:
        assert ws <= ks < ke <= we and we - ws <= 128 and we <= frames


def test_interior_windows_keep_their_middle():
    plan = plan_windows(300, 128, 32)
    for n, (ws, we, ks, ke) in enumerate(plan):
        if n > 0:
            assert ks - ws >= 16
        if n < len(plan) - 1:
            assert we - ke == 16


@pytest.fixture
def vae(bundle_dir):
    return torch.jit.load(str(bundle_dir / "vae_model.pt"))


def test_chunked_equals_whole(vae):
    latents = torch.randn(1, 300, 64, generator=torch.Generator().manual_seed(1))
    chunks = []
    chunked = decode(vae, latents, chunked=True, on_chunk=lambda d, t: chunks.append((d, t)))
    whole = decode(vae, latents, chunked=False)
    assert chunked.shape == (2, 300 * 2048)
    assert chunks == [(1, 3), (2, 3), (3, 3)]
    assert torch.allclose(chunked, whole, atol=1e-5)


def test_oom_retries_with_smaller_windows(vae):
    latents = torch.randn(1, 200, 64)
    retries = []
    out = decode(FaultyVAE(vae, "oom_decode", oom_above=40), latents, on_retry=retries.append)
    assert len(retries) == 2 and "128-frame" in retries[0] and "32-frame" in retries[1]
    assert torch.allclose(out, decode(vae, latents), atol=1e-5)


def test_whole_decode_falls_back_to_windows(vae):
    retries = []
    decode(FaultyVAE(vae, "oom_decode", oom_above=128), torch.randn(1, 300, 64), chunked=False, on_retry=retries.append)
    assert retries and "300-frame" in retries[0]


def test_oom_everywhere_is_exit_5(vae):
    with pytest.raises(OutOfMemory) as info:
        decode(FaultyVAE(vae, "oom_always"), torch.randn(1, 100, 64))
    assert int(info.value.code) == 5


def test_other_errors_are_not_retried(vae):
    class Broken:
        def decode_export(self, z):
            raise ValueError("boom")

    with pytest.raises(ValueError):
        decode(Broken(), torch.randn(1, 10, 64))
