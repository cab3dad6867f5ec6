"""The network and sampler inputs the sampling benchmarks share: a DiT-shaped network of a chosen size
(the tiny bundle's class, same forward keywords as upstream's DiT) and a new song's conditioning."""

from __future__ import annotations

import torch

from runner.bundle.nets import TinyDiT


def dit_network(dim: int, depth: int) -> TinyDiT:
    torch.manual_seed(0)
    return TinyDiT(dim=dim, depth=depth, heads=max(1, dim // 64), ff_mult=4, text_dim=512, cond_dim=512,
                   max_frames=2048).eval()


def new_song_inputs(frames: int) -> tuple[torch.Tensor, ...]:
    """(cond, tokens, style, negative_style, start_time, duration) in `runner.sampler.sample`'s order."""
    gen = torch.Generator().manual_seed(1)
    return (torch.zeros(1, frames, 64), torch.randint(1, 60, (frames,), generator=gen),
            torch.randn(1, 512, generator=gen), torch.randn(1, 512, generator=gen),
            torch.tensor([0.0]), torch.tensor([frames / 2048]))
