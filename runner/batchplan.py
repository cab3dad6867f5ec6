"""How many candidates of a batch can be sampled in one pass on this device, estimated before loading.

The estimate is deliberately rough and on the safe side: the network's weights (about 16 * dim^2 per
layer, the DiT's Llama-style blocks), a fixed runtime allowance, and per candidate two rows (the guided
and the unguided pass), each holding a few hidden states, the feed-forward intermediate and the
attention scores of every head.
A batch that does not fit is split into passes of equal size; since candidate k always draws its
noise with seed + k, a split batch gives exactly the songs of an unsplit one.

The attention scores (heads * frames^2 per row, 6 GiB at 6144 frames) are counted on CUDA only: torch's
CPU scaled-dot-product attention works through them block by block and never holds them whole (measured
with tests/bench/bench_realsize.py on upstream's DiT: 6144 frames used 1.1 GiB above the weights, where
counting the scores predicted 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

HEADROOM = 0.8  # use at most this share of the free memory
HIDDEN_COPIES = 8
# what a run holds beside the weights and the activations, whatever the dtype and length: the model code's
# imports (about 160 MiB) and the kernels' workspaces (measured 0.74-0.81 GiB above the weights for one
# 2048-frame candidate in bfloat16 and float32 alike, of which the activations' estimate is 0.31-0.62)
RUNTIME_BYTES = 512 * 2**20


@dataclass(frozen=True)
class NetSize:
    dim: int
    depth: int
    ff_mult: int
    heads: int


@dataclass(frozen=True)
class BatchPlan:
    passes: tuple[int, ...]  # candidates per pass, in order
    per_candidate: int  # bytes
    weights: int  # bytes
    available: int | None  # free bytes on the device (None: unknown, no split)

    @property
    def need(self) -> int:
        return self.need_for(max(self.passes))

    def need_for(self, candidates: int) -> int:
        return self.weights + RUNTIME_BYTES + self.per_candidate * candidates


def net_size(bundle: str | None, diffrhythm: str | None) -> NetSize:
    """The DiT's sizes from the bundle's manifest or the checkout's config (DiffRhythm-1b's when unreadable)."""
    import json

    try:
        if bundle:
            dit = json.loads((Path(bundle) / "bundle.json").read_text(encoding="utf-8"))["dit"]
            return NetSize(int(dit["dim"]), int(dit["depth"]), int(dit["ff_mult"]), int(dit["heads"]))
        model = json.loads((Path(diffrhythm or "") / "config" / "diffrhythm-1b.json").read_text(encoding="utf-8"))["model"]
        return NetSize(int(model["dim"]), int(model["depth"]), int(model.get("ff_mult", 4)), 32)  # LlamaConfig's 32 heads
    except (OSError, ValueError, KeyError, TypeError):
        return NetSize(2048, 16, 4, 32)


def weight_bytes(net: NetSize, elem: int) -> int:
    return 16 * net.dim * net.dim * net.depth * elem


def candidate_bytes(net: NetSize, frames: int, elem: int, guided: bool = True, device_type: str = "cuda") -> int:
    row = (HIDDEN_COPIES * frames * net.dim + 3 * frames * net.dim * net.ff_mult) * elem
    if device_type != "cpu":
        row += 2 * net.heads * frames * frames * elem  # scores and their softmax, every head at once
    return row * (2 if guided else 1)


def plan_batch(batch: int, net: NetSize, frames: int, elem: int, available: int | None,
               guided: bool = True, device_type: str = "cuda") -> BatchPlan:
    per, weights = candidate_bytes(net, frames, elem, guided, device_type), weight_bytes(net, elem)
    if available is None:
        return BatchPlan((batch,), per, weights, None)
    fit = max(1, int((available * HEADROOM - weights - RUNTIME_BYTES) // per))
    count = math.ceil(batch / fit)
    size, extra = divmod(batch, count)
    passes = tuple(size + (1 if i < extra else 0) for i in range(count))
    return BatchPlan(passes, per, weights, available)


def free_memory(device_type: str, device_index: int | None = None) -> int | None:
    """Free bytes: the CUDA device's free memory, or the system's MemAvailable; None when unknown."""
    if device_type == "cuda":
        try:
            import torch

            return int(torch.cuda.mem_get_info(device_index or 0)[0])
        except Exception:  # noqa: BLE001 - no estimate is better than a failed run
            return None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
