"""Our Euler CFG sampler against a plain two-pass reference, with the bundle's real DiT."""

import torch

from runner.bundle.load import load_bundle
from runner.sampler import sample

FRAMES = 40


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 30, (FRAMES,), generator=g)
    tokens[25:] = 0
    style = torch.randn(1, 512, generator=g)
    return tokens, style


def _dit(bundle_dir, dtype=torch.float32):
    return load_bundle(bundle_dir, device=torch.device("cpu"), dtype=dtype, parts=("dit", "style"))


def reference(transformer, cond, tokens, style, negative, start, dur, steps, cfg, seed):
    """Upstream's procedure written out plainly: two forwards per step, float32 everything."""
    torch.manual_seed(seed)
    x = torch.randn(FRAMES, 64).unsqueeze(0)
    t = torch.linspace(0, 1, steps)
    text = tokens.reshape(1, -1)
    with torch.no_grad():
        for i in range(steps - 1):
            kw = dict(x=x, cond=cond, text=text, time=t[i], start_time=start, duration=dur)
            pred = transformer(drop_audio_cond=False, drop_text=False, drop_prompt=False, style_prompt=style, **kw)
            null = transformer(drop_audio_cond=True, drop_text=True, drop_prompt=False, style_prompt=negative, **kw)
            x = x + (t[i + 1] - t[i]) * (pred + (pred - null) * cfg)
    return x


def test_matches_two_pass_reference(bundle_dir):
    comps = _dit(bundle_dir)
    tokens, style = _inputs()
    cond = torch.zeros(1, FRAMES, 64)
    args = (comps.transformer, cond, tokens, style, comps.negative_style, torch.tensor([0.0]), torch.tensor([0.3]))
    ours = sample(*args, steps=8, cfg=4.0, seed=5)
    ref = reference(*args, steps=8, cfg=4.0, seed=5)
    assert torch.allclose(ours, ref, atol=1e-4, rtol=1e-4), (ours - ref).abs().max()
    sequential = sample(*args, steps=8, cfg=4.0, seed=5, batched_guidance=False)
    assert torch.allclose(ours, sequential, atol=1e-4, rtol=1e-4)


def test_seed_reproducible_and_distinct(bundle_dir):
    comps = _dit(bundle_dir)
    tokens, style = _inputs()
    args = (comps.transformer, torch.zeros(1, FRAMES, 64), tokens, style, comps.negative_style, 0.0, 0.3)
    a = sample(*args, steps=4, seed=1)
    assert torch.equal(a, sample(*args, steps=4, seed=1))
    assert not torch.allclose(a, sample(*args, steps=4, seed=2))


def test_on_step_every_step_and_spans_keep_cond(bundle_dir):
    comps = _dit(bundle_dir)
    tokens, style = _inputs()
    cond = torch.randn(1, FRAMES, 64)
    seen = []
    out = sample(comps.transformer, cond, tokens, style, comps.negative_style, 0.0, 0.3, steps=6, seed=3,
                 spans=[(10, 20)], on_step=lambda d, t, x: seen.append((d, t, x.dtype)))
    assert seen == [(k, 5, torch.float32) for k in range(1, 6)]
    assert torch.equal(out[:, :10], cond[:, :10]) and torch.equal(out[:, 20:], cond[:, 20:])
    assert not torch.allclose(out[:, 10:20], cond[:, 10:20])


def test_bfloat16_close_to_float32(bundle_dir):
    tokens, style = _inputs()
    outs = []
    for dtype in (torch.float32, torch.bfloat16):
        comps = _dit(bundle_dir, dtype)
        outs.append(sample(comps.transformer, torch.zeros(1, FRAMES, 64), tokens, style, comps.negative_style,
                           0.0, 0.3, steps=8, seed=9))
    assert outs[1].dtype == torch.float32
    rel = (outs[0] - outs[1]).norm() / outs[0].norm()
    assert rel < 0.05, rel


def test_cfg_zero_is_one_pass(bundle_dir):
    comps = _dit(bundle_dir)
    tokens, style = _inputs()
    calls = []
    handle = comps.transformer.register_forward_hook(lambda m, i, o: calls.append(o.shape[0]))
    sample(comps.transformer, torch.zeros(1, FRAMES, 64), tokens, style, comps.negative_style, 0.0, 0.3,
           steps=4, cfg=0.0, seed=1)
    handle.remove()
    assert calls == [1, 1, 1]


def test_stop_from_on_step(bundle_dir):
    comps = _dit(bundle_dir)
    tokens, style = _inputs()

    class Stop(Exception):
        pass

    def on_step(done, total, x):
        if done == 2:
            raise Stop

    try:
        sample(comps.transformer, torch.zeros(1, FRAMES, 64), tokens, style, comps.negative_style, 0.0, 0.3,
               steps=10, seed=1, on_step=on_step)
    except Stop:
        pass
    else:
        raise AssertionError("on_step's exception must stop the sampling")
