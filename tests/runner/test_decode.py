"""Chunked VAE decode with the bundle's real TorchScript VAE: tiling, equality with whole decode, OOM fallback."""

import pytest
import torch

from runner.bundle.faults import FaultyVAE
from runner.decode import decode, plan_windows
from runner.errors import OutOfMemory

SIZES = [(128, 32), (64, 16), (32, 8), (16, 4), (40, 10)]  # (window, overlap): the run's, and the OOM retries'


def painted_sources(frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Upstream's chunked decode, as a painter: per output frame, (window start, frame within the window).

    Windows start every window - overlap frames while they fit, then one ends at the last frame; each is
    pasted in order without overlap // 2 frames at an inner edge, later windows painting over earlier ones."""
    if frames <= window:
        return [(0, f) for f in range(frames)]
    hop, half = window - overlap, overlap // 2
    starts = list(range(0, frames - window + 1, hop))
    if starts[-1] + window != frames:
        starts.append(frames - window)
    source: list[tuple[int, int] | None] = [None] * frames
    for n, ws in enumerate(starts):
        lo = 0 if n == 0 else half
        hi = window if n == len(starts) - 1 else window - half
        for j in range(lo, hi):
            source[ws + j] = (ws, j)
    assert None not in source
    return source  # type: ignore[return-value]


def planned_sources(frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    return [(ws, f - ws) for ws, _we, ks, ke in plan_windows(frames, window, overlap) for f in range(ks, ke)]


@pytest.mark.parametrize("window, overlap", SIZES)
def test_each_frame_comes_from_upstreams_window(window, overlap):
    for frames in range(1, 8 * window + 3):
        assert planned_sources(frames, window, overlap) == painted_sources(frames, window, overlap), frames


@pytest.mark.parametrize("frames", [1, 50, 128, 129, 200, 224, 225, 300, 1000, 2048, 6144])
def test_plan_tiles_every_frame_once(frames):
    plan = plan_windows(frames, 128, 32)
    kept = [f for _, _, ks, ke in plan for f in range(ks, ke)]
    assert kept == list(range(frames))
    for ws, we, ks, ke in plan:
        assert ws <= ks < ke <= we and we - ws <= 128 and we <= frames


def test_interior_windows_keep_their_middle():
    plan = plan_windows(300, 128, 32)
    assert [ws for ws, *_ in plan] == [0, 96, 172]  # 300 is not a whole number of 96-frame hops
    assert plan[-1][2:] == (172 + 16, 300)  # the last window gives all but its first 16 frames
    for n, (ws, we, ks, ke) in enumerate(plan):
        if n > 0:
            assert ks - ws == 16
        if n < len(plan) - 1:
            assert we - ke >= 16


class WindowRevealingVAE(torch.nn.Module):
    """Not frame-local, like the real VAE: each frame's audio says which window decoded it.

    Channel 0 carries the window's first latent value (the frame index it was given), channel 1 the frame's own."""

    def decode_export(self, z: torch.Tensor) -> torch.Tensor:  # [1, 64, n] -> [1, 2, n * 2048]
        first = z[:, 0, :1].expand(-1, z.shape[2])
        return torch.stack([first, z[:, 0, :]], dim=1).repeat_interleave(2048, dim=2)


@pytest.mark.parametrize("frames", [1, 127, 128, 129, 223, 224, 225, 250, 300, 321, 1000])
def test_decoded_frames_come_from_upstreams_windows(frames):
    latents = torch.arange(frames, dtype=torch.float32)[None, :, None].repeat(1, 1, 64)
    audio = decode(WindowRevealingVAE(), latents, chunked=True).view(2, frames, 2048)
    assert torch.equal(audio[1], latents[0, :, :1].expand(-1, 2048))  # every frame in its place
    window_starts = [float(ws) for ws, _ in painted_sources(frames, 128, 32)]
    assert audio[0, :, 0].tolist() == window_starts


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
