"""Euler flow-matching sampler with classifier-free guidance over a DiT (DIFFRHYTHM.md step 4).

Our own implementation. Differences from upstream that are deliberate:
- the time grid is float32 whatever the network dtype;
- the state x is kept in float32; only the network runs in its own dtype (inputs are cast to it);
- both guidance passes can run as ONE forward of two rows (row 2: cond zeroed, token row zeroed,
  negative style), which equals upstream's two calls up to float rounding; `batched_guidance=False` makes
  them two calls, the runner's choice for an eager network on the CPU (runner.acceleration: measured faster).
Noise is drawn like upstream: `torch.manual_seed(seed)` right before `torch.randn(frames, 64)`.
A batch of N candidates samples N rows together (2N with guidance); row k (0-based) draws its noise
with `torch.manual_seed(seed + k)`, so it equals a single run with seed + k up to float rounding and a
batch can be split into smaller passes (seed + offset) without changing any candidate.
`guidance_every` N > 1 (opt-in, lossy: `--accel cfg-reuse` / `cfg-reuse-3`) runs the unguided pass only on every N-th step
and reuses the last guidance (pred - null) on the steps between, which then run the guided rows alone.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

# on_step(done, total, x) is called after each Euler step with the float32 state; it may raise
# (cancellation, a NaN found) to stop the sampling at that step boundary.
OnStep = Callable[[int, int, torch.Tensor], None]


def span_mask(frames: int, spans: Sequence[tuple[int, int]] | None, device: torch.device) -> torch.Tensor:
    """[frames] bool: True where frames are generated (all of them when `spans` is None)."""
    if spans is None:
        return torch.ones(frames, dtype=torch.bool, device=device)
    mask = torch.zeros(frames, dtype=torch.bool, device=device)
    for start, end in spans:
        mask[max(0, int(start)) : min(frames, int(end))] = True
    return mask


def _as_row(value: torch.Tensor | float, device: torch.device) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32, device=device)
    return tensor.reshape(1) if tensor.ndim == 0 else tensor.reshape(-1)[:1]


@torch.no_grad()
def sample(
    transformer: torch.nn.Module,
    cond: torch.Tensor,
    tokens: torch.Tensor,
    style: torch.Tensor,
    negative_style: torch.Tensor,
    start_time: torch.Tensor | float,
    duration: torch.Tensor | float,
    steps: int = 32,
    cfg: float = 4.0,
    seed: int = 0,
    spans: Sequence[tuple[int, int]] | None = None,
    on_step: OnStep | None = None,
    batched_guidance: bool = True,
    batch: int = 1,
    guidance_every: int = 1,
) -> torch.Tensor:
    """Latents [batch, frames, 64] (float32).

    cond [1, frames, 64] (zeros for a new song), tokens [1, frames] or [frames] (long),
    style / negative_style [1, 512], start_time / duration: [1] tensors or floats,
    spans: (start_frame, end_frame) ranges to generate (None = all); frames outside them come from cond.
    on_step gets the whole state [batch, frames, 64].
    """
    if steps < 2:
        raise ValueError("steps must be >= 2")
    if batch < 1:
        raise ValueError("batch must be >= 1")
    if guidance_every < 1:
        raise ValueError("guidance_every must be >= 1")
    param = next(transformer.parameters())
    device, net_dtype = param.device, param.dtype
    cond = cond.to(device=device, dtype=torch.float32)
    if cond.ndim == 2:
        cond = cond.unsqueeze(0)
    frames, channels = cond.shape[1], cond.shape[2]
    tokens = tokens.to(device).long().reshape(1, -1)
    if tokens.shape[1] != frames:
        raise ValueError(f"token row has {tokens.shape[1]} slots for {frames} frames")
    mask = span_mask(frames, spans, device).reshape(1, frames, 1)
    step_cond = torch.where(mask, torch.zeros_like(cond), cond).repeat(batch, 1, 1)
    tokens = tokens.repeat(batch, 1)
    style = style.reshape(1, -1).repeat(batch, 1)
    negative_style = negative_style.reshape(1, -1).repeat(batch, 1)
    start = _as_row(start_time, device).repeat(batch)
    dur = _as_row(duration, device).repeat(batch)

    guided = cfg >= 1e-5
    if guided and batched_guidance:
        rows_cond = torch.cat([step_cond, torch.zeros_like(step_cond)]).to(net_dtype)
        rows_text = torch.cat([tokens, torch.zeros_like(tokens)])
        rows_style = torch.cat([style, negative_style]).to(device, net_dtype)
        rows_start, rows_dur = start.repeat(2).to(net_dtype), dur.repeat(2).to(net_dtype)
    one_cond, one_style = step_cond.to(net_dtype), style.to(device, net_dtype)
    neg_style = negative_style.to(device, net_dtype)
    one_start, one_dur = start.to(net_dtype), dur.to(net_dtype)

    def predict(t: torch.Tensor, x: torch.Tensor, with_null: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        xin = x.to(net_dtype)
        tin = t.to(net_dtype)
        if with_null and batched_guidance:
            out = transformer(
                x=torch.cat([xin, xin]), cond=rows_cond, text=rows_text, time=tin,
                drop_audio_cond=False, drop_text=False, drop_prompt=False,
                style_prompt=rows_style, start_time=rows_start, duration=rows_dur,
            ).float()
            return out[:batch], out[batch:]
        pred = transformer(
            x=xin, cond=one_cond, text=tokens, time=tin, drop_audio_cond=False, drop_text=False,
            drop_prompt=False, style_prompt=one_style, start_time=one_start, duration=one_dur,
        ).float()
        if not with_null:
            return pred, None
        null = transformer(
            x=xin, cond=one_cond, text=tokens, time=tin, drop_audio_cond=True, drop_text=True,
            drop_prompt=False, style_prompt=neg_style, start_time=one_start, duration=one_dur,
        ).float()
        return pred, null

    rows = []
    for k in range(batch):
        torch.manual_seed(seed + k)
        rows.append(torch.randn(frames, channels, device=device, dtype=torch.float32))
    x = torch.stack(rows)
    grid = torch.linspace(0.0, 1.0, steps, device=device, dtype=torch.float32)
    total = steps - 1
    guidance: torch.Tensor | None = None  # pred - null of the last step that ran the unguided pass
    for i in range(total):
        fresh = guided and (guidance is None or i % guidance_every == 0)
        pred, null = predict(grid[i], x, fresh)
        if null is not None:
            guidance = pred - null
        velocity = pred + guidance * cfg if guided else pred
        x = x + (grid[i + 1] - grid[i]) * velocity
        if on_step is not None:
            on_step(i + 1, total, x)
    return torch.where(mask, x, cond)
