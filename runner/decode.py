"""VAE decode of latents [1, frames, 64] -> audio [2, frames * 2048] (float32), whole or in windows.

Chunked: windows of `window` frames start every `window - overlap` frames while they fit, and one more
window ends at the last frame when the frames are not a whole number of hops: the tiling of upstream's
`decode_audio`. Each window's audio is pasted in order, without its first `overlap // 2` frames (except
the first window) and its last `overlap // 2` (except the last window); a later window covers what an
earlier one pasted, so with several windows the last one gives the song's last `window - overlap // 2`
frames. The VAE is not frame-local (a frame's audio depends on its neighbours), so the same frames from
another window would sound different: this tiling is what makes the audio match upstream's. Memory
stays flat as the song grows. Out of memory: free the cache and retry with halved windows, then give up (exit 5).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from runner.components import SAMPLES_PER_FRAME
from runner.errors import OutOfMemory

DECODE_WINDOW, DECODE_OVERLAP = 128, 32  # frames: upstream's chunk_size and overlap
MIN_WINDOW = 16

# on_chunk(done, total) after each window; may raise to stop at that boundary
OnChunk = Callable[[int, int], None]


def plan_windows(frames: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(window_start, window_end, keep_start, keep_end) in frames; the kept parts tile [0, frames) in order."""
    if frames <= window:
        return [(0, frames, 0, frames)]
    hop = window - overlap
    half = overlap // 2
    starts = list(range(0, frames - window + 1, hop))
    if starts[-1] + window < frames:
        starts.append(frames - window)  # the last window ends at the last frame
    keep_starts = [0] + [ws + half for ws in starts[1:]]
    keep_ends = keep_starts[1:] + [frames]  # a window's audio stops where the next window's begins
    return [(ws, ws + window, ks, ke) for ws, ks, ke in zip(starts, keep_starts, keep_ends)]


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


@torch.no_grad()
def decode_windows(vae: Any, latents: torch.Tensor, window: int, overlap: int, on_chunk: OnChunk | None) -> torch.Tensor:
    z = latents.transpose(1, 2).float()  # [1, 64, frames]
    frames = z.shape[2]
    out = torch.zeros(2, frames * SAMPLES_PER_FRAME, dtype=torch.float32)
    plan = plan_windows(frames, window, overlap)
    for n, (ws, we, ks, ke) in enumerate(plan):
        audio = vae.decode_export(z[:, :, ws:we])  # [1, 2, (we - ws) * 2048]
        lo, hi = (ks - ws) * SAMPLES_PER_FRAME, (ke - ws) * SAMPLES_PER_FRAME
        out[:, ks * SAMPLES_PER_FRAME : ke * SAMPLES_PER_FRAME] = audio[0, :, lo:hi].float().cpu()
        del audio
        if on_chunk is not None:
            on_chunk(n + 1, len(plan))
    return out


def decode(
    vae: Any,
    latents: torch.Tensor,
    *,
    chunked: bool = True,
    window: int = DECODE_WINDOW,
    overlap: int = DECODE_OVERLAP,
    on_chunk: OnChunk | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> torch.Tensor:
    """Audio [2, samples] float32 on the CPU."""
    device = latents.device
    size = window if chunked else max(latents.shape[1], 1)
    ov = overlap if chunked else 0
    while True:
        try:
            return decode_windows(vae, latents, size, ov, on_chunk)
        except Exception as exc:  # noqa: BLE001 - only OOM is retried, everything else re-raised
            if not _is_oom(exc):
                raise
            _free_cache(device)
            smaller = window if size > window else size // 2
            if smaller < MIN_WINDOW:
                raise OutOfMemory(
                    f"the VAE decode ran out of memory even with {size}-frame windows",
                    "free GPU memory (close other programs), or run with --device cpu",
                ) from exc
            if on_retry is not None:
                on_retry(f"out of memory decoding {size}-frame windows: retrying with {smaller}-frame windows")
            size, ov = smaller, min(overlap, smaller // 4)
