"""Our runner against a real DiffRhythm checkout's own code (skipped unless DRDOCTOR_DIFFRHYTHM_ROOT is set).

Nothing of upstream is copied: the checkout is read where it lies. The test builds a small install
around it in a temporary folder: links to the checkout's folders, a SMALL network config (dim 256,
depth 4, ff_mult 2, text_dim 512, conv_layers 2), random weights saved as real checkpoint files, a
tiny TorchScript VAE and a fixed style vector (pre-seeded in the style cache, since MuQ-MuLan is not
available offline). Then it compares, with the same inputs:
- our token row (runner.lrc + runner.tokens) with upstream's `get_lrc_token`, bit for bit;
- our sampler (runner.sampler.sample) with upstream's `CFM.sample`, float32, same seed;
- `python -m runner` end to end on that install, its latents against upstream's `CFM.sample`.
The checkout's g2p needs espeak-ng and its large data files; a partial copy lacks them, so the
lyrics here are tokenized with a stand-in that maps letters through `g2p/g2p/vocab.json`, and the
end-to-end song is an instrumental (plus one run with lyrics that must fail with exit 3, naming the
missing g2p files).

Run: DRDOCTOR_DIFFRHYTHM_ROOT=/path/to/DiffRhythm python -m pytest tests/integration
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
import torch

ROOT = os.environ.get("DRDOCTOR_DIFFRHYTHM_ROOT")
pytestmark = pytest.mark.skipif(not ROOT, reason="DRDOCTOR_DIFFRHYTHM_ROOT is not set (a DiffRhythm checkout)")
if ROOT:
    _missing = [m for m in ("transformers", "x_transformers", "torchdiffeq") if importlib.util.find_spec(m) is None]
    if _missing:
        pytest.skip(
            f"the checkout's model code needs {', '.join(_missing)}, not installed in {sys.executable} "
            "(pip install transformers==4.53.3 x-transformers==2.1.2 torchdiffeq==0.2.5 einops)",
            allow_module_level=True,
        )

from _upstream_code import upstream_functions  # noqa: E402
from runner.checkout import load_diffrhythm  # noqa: E402
from runner.checkout_import import import_model_code  # noqa: E402
from runner.events import decode as decode_event  # noqa: E402
from runner.events import problems  # noqa: E402
from runner.lrc import parse_lrc  # noqa: E402
from runner.style import style_cache_key  # noqa: E402
from runner.tokens import build_token_row, max_frames_for  # noqa: E402

SMALL = {"dim": 256, "depth": 4, "heads": 8, "ff_mult": 2, "text_dim": 512, "conv_layers": 2, "mel_dim": 64, "text_num_embeds": 363}
STYLE_TEXT = "integration test style"
REPO = Path(__file__).resolve().parents[2]


class TinyToneVAE(torch.nn.Module):
    """decode_export: [b, 64, f] -> [b, 2, f * 2048]: per frame, a 220 Hz tone whose level the latent sets."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Linear(64, 2)
        n = torch.arange(2048, dtype=torch.float32)
        self.register_buffer("carrier", torch.sin(2 * torch.pi * 220.0 * n / 44100.0))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode_export(latents)

    @torch.jit.export
    def decode_export(self, latents: torch.Tensor) -> torch.Tensor:
        level = torch.tanh(self.mix(latents.transpose(1, 2).float())).transpose(1, 2)  # [b, 2, f]
        audio = level[:, :, :, None] * self.carrier[None, None, None, :]
        return audio.reshape(latents.shape[0], 2, -1)

    @torch.jit.export
    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        return audio[:, :1, ::2048].repeat(1, 128, 1)


class VocabTokenize:
    """Stand-in g2p: letters -> ids of g2p/g2p/vocab.json (spaces -> "_"; others dropped). Ids before the +1."""

    def __init__(self, root: Path) -> None:
        self.vocab = json.loads((root / "g2p" / "g2p" / "vocab.json").read_text(encoding="utf-8"))["vocab"]

    def __call__(self, text: str) -> list[int]:
        out = []
        for ch in text.lower():
            key = "_" if ch == " " else ch
            if key in self.vocab:
                out.append(self.vocab[key])
        return out


class UpstreamTokenizer:
    """What upstream's get_lrc_token calls: encode(text) -> ids + 1 (like its CNENTokenizer)."""

    def __init__(self, tokenize: VocabTokenize) -> None:
        self.tokenize = tokenize

    def encode(self, text: str) -> list[int]:
        return [i + 1 for i in self.tokenize(text)]


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """{"root": linked checkout with a small config, "models": folder with cfm/vae files, "xdg": cache home}."""
    upstream = Path(ROOT).resolve()
    base = tmp_path_factory.mktemp("install")
    root = base / "DiffRhythm"
    root.mkdir()
    for entry in upstream.iterdir():
        if entry.name not in ("config", "pretrained"):
            (root / entry.name).symlink_to(entry)
    (root / "config").mkdir()
    (root / "config" / "diffrhythm-1b.json").write_text(json.dumps({"model_type": "diffrhythm", "model": SMALL}))

    warnings: list[str] = []
    CFM, DiT = import_model_code(root, warnings.append)
    models = base / "models"
    models.mkdir()
    for max_frames, name, seed in ((2048, "cfm_model.pt", 1), (6144, "cfm_model_full.pt", 2)):
        torch.manual_seed(seed)
        cfm = CFM(transformer=DiT(**SMALL, max_frames=max_frames), num_channels=64, max_frames=max_frames)
        with torch.no_grad():
            for param in cfm.parameters():
                if not param.any():  # upstream zero-inits the text fusion layers: give the tokens a say
                    param.normal_(0.0, 0.02)
        torch.save({"model_state_dict": cfm.state_dict()}, models / name)
    torch.manual_seed(3)
    torch.jit.script(TinyToneVAE()).save(str(models / "vae_model.pt"))

    xdg = base / "xdg-cache"
    style = torch.randn(1, 512, generator=torch.Generator().manual_seed(11))
    key = style_cache_key("MuQ-MuLan-large@unavailable", "text", hashlib.sha256(STYLE_TEXT.encode()).hexdigest())
    (xdg / "drdoctor" / "styles").mkdir(parents=True)
    torch.save(style, xdg / "drdoctor" / "styles" / f"{key}.pt")
    return {"root": root, "upstream": upstream, "models": models, "xdg": xdg, "style": style,
            "import_warnings": warnings}


@pytest.fixture
def env_cache(install, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(install["xdg"]))


def lrc_cases(root: Path) -> list[tuple[str, str]]:
    cases = [(p.name, p.read_text(encoding="utf-8")) for p in sorted((root / "infer" / "example").glob("*.lrc"))]
    dense = "\n".join(f"[00:{10 + i // 4:02d}.{(i % 4) * 25:02d}]the quick brown fox jumps. over the lazy dog" for i in range(40))
    late = "[00:20.00]early line\n[01:34.90]right before the end of the base song with a long tail of words\n" \
           "[01:40.00]after the base end\n[04:44.50]near the full end with many many many words in it\n[04:50.00]past all ends"
    cases += [("dense (pushes and cuts)", dense), ("late lines", late), ("empty", ""), ("blank text", "[00:05.00]\n[00:09.00]x")]
    return cases


def test_token_row_matches_upstream_get_lrc_token(install):
    fns = upstream_functions(install["upstream"], ("parse_lyrics", "get_lrc_token"))
    tokenize = VocabTokenize(install["upstream"])
    compared = 0
    for name, text in lrc_cases(install["upstream"]):
        for length in (95, 96, 150, 285):
            max_frames = max_frames_for(length)
            up_row, _up_start, up_end, up_dur = fns["get_lrc_token"](max_frames, text, UpstreamTokenizer(tokenize), length, "cpu")
            ours = build_token_row(parse_lrc(text).lines, tokenize, length, max_frames)
            assert ours.end_frame == up_end, (name, length)
            assert torch.equal(ours.tokens, up_row[0]), (name, length)
            assert torch.tensor(ours.end_frame / max_frames).half() == up_dur[0], (name, length)
            compared += 1
    assert compared >= 40
    print(f"\ntoken rows identical to upstream's get_lrc_token for {compared} (lyrics, length) cases")


def _upstream_sample(comps, tokens, style, frames, max_frames, steps, seed):
    CFM = sys.modules["model.cfm"].CFM
    cfm = CFM(transformer=comps.transformer, num_channels=64, max_frames=max_frames)
    out, _trajectory = cfm.sample(
        cond=torch.zeros(1, frames, 64), text=tokens[None], duration=frames, style_prompt=style,
        negative_style_prompt=comps.negative_style, steps=steps, cfg_strength=4.0, seed=seed,
        start_time=torch.tensor([0.0]), latent_pred_segments=[(0, frames)],
        song_duration=torch.tensor([frames / max_frames]), max_duration=max_frames,
    )
    return out[0]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize(("length", "steps"), [(95, 6), (96, 3)])
def test_sampler_matches_upstream_cfm_sample(install, length, steps, env_cache):
    from runner.sampler import sample

    warnings: list[str] = []
    comps = load_diffrhythm(install["root"], install["models"], length, "cpu", torch.float32, warnings.append)
    max_frames = comps.max_frames
    lines = parse_lrc((install["upstream"] / "infer" / "example" / "eg_en.lrc").read_text(encoding="utf-8")).lines
    row = build_token_row(lines, VocabTokenize(install["upstream"]), length, max_frames)
    frames, style, seed = row.end_frame, install["style"], 1234
    expected = _upstream_sample(comps, row.tokens, style, frames, max_frames, steps, seed)
    args = (comps.transformer, torch.zeros(1, frames, 64), row.tokens, style, comps.negative_style,
            torch.tensor([0.0]), torch.tensor([frames / max_frames]))
    two_calls = sample(*args, steps=steps, cfg=4.0, seed=seed, spans=[(0, frames)], batched_guidance=False)
    one_batch = sample(*args, steps=steps, cfg=4.0, seed=seed, spans=[(0, frames)])
    assert expected.shape == two_calls.shape == (1, frames, 64)
    r2, r1 = _rel(two_calls, expected), _rel(one_batch, expected)
    print(f"\nlength {length}: {frames} frames, {steps} steps; relative L2 vs upstream CFM.sample: "
          f"two calls {r2:.2e}, one batch of two {r1:.2e}; max abs {float((one_batch - expected).abs().max()):.2e}")
    assert r2 < 1e-5 and r1 < 1e-4


def _events(stdout: str) -> list[dict]:
    events = []
    for line in stdout.splitlines():
        event = decode_event(line)
        assert event is not None, f"a stdout line that is not an event: {line!r}"
        assert problems(event) == [], (event, problems(event))
        events.append(event)
    return events


def _run_runner(install, tmp_path, *extra: str) -> tuple[subprocess.CompletedProcess, list[dict], Path]:
    out = tmp_path / "song.wav"
    env = {**os.environ, "XDG_CACHE_HOME": str(install["xdg"]), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "runner", "--diffrhythm", str(install["root"]), "--models", str(install["models"]),
           "--length", "95", "--style", STYLE_TEXT, "--steps", "4", "--seed", "77", "--device", "cpu",
           "--dtype", "float32", "--out", str(out), "--run-dir", str(tmp_path / "runs"), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=580, env=env, cwd=tmp_path)
    return proc, _events(proc.stdout), out


def test_python_m_runner_end_to_end_instrumental(install, tmp_path, env_cache):
    proc, events, out = _run_runner(install, tmp_path)
    finished = [e for e in events if e["type"] == "run_finished"]
    assert proc.returncode == 0, (proc.stderr[-3000:], [e for e in events if e["type"] in ("error", "warning")])
    assert finished and finished[-1]["ok"] and finished[-1]["output"] == str(out)
    stages = [e["stage"] for e in events if e["type"] == "stage_finished"]
    assert stages == ["preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write"]
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    checks = {e["name"]: e for e in events if e["type"] == "check"}
    assert "cached" in checks["style_vector"]["message"] or "cache" in checks["style_vector"]["message"]
    assert {"file_cfm", "file_vae", "file_negative_style", "file_config"} <= set(checks)
    with wave.open(str(out), "rb") as handle:
        assert (handle.getnchannels(), handle.getframerate(), handle.getnframes()) == (2, 44100, 2048 * 2048)

    # the latents the runner saved are upstream's CFM.sample for the same seed, steps and inputs
    run_dirs = list((tmp_path / "runs").iterdir())
    assert len(run_dirs) == 1
    saved = torch.load(run_dirs[0] / "latents.pt", weights_only=True)["latents"]
    comps = load_diffrhythm(install["root"], install["models"], 95, "cpu", torch.float32, lambda _m: None)
    expected = _upstream_sample(comps, torch.zeros(2048, dtype=torch.long), install["style"], 2048, 2048, 4, 77)
    rel = _rel(saved, expected)
    print(f"\npython -m runner: exit 0, {out.stat().st_size} bytes WAV; warnings: {warnings}; "
          f"latents vs upstream CFM.sample relative L2 {rel:.2e}")
    assert rel < 1e-4


def test_python_m_runner_with_lyrics_on_a_partial_copy_fails_cleanly(install, tmp_path, env_cache):
    from runner.checkout_import import g2p_file_problems

    if not g2p_file_problems(install["upstream"]):
        pytest.skip("this checkout has its g2p data files; the partial-copy failure does not apply")
    lrc = tmp_path / "song.lrc"
    lrc.write_text("[00:05.00]hello there\n[00:10.00]second line\n[00:20.00]third\n", encoding="utf-8")
    proc, events, out = _run_runner(install, tmp_path, "--lyrics", str(lrc))
    errors = [e for e in events if e["type"] == "error"]
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert errors and errors[0]["stage"] == "lyrics" and "g2p" in errors[0]["message"]
    assert "git lfs pull" in errors[0]["remedy"]
    assert not out.exists()
    print(f"\nwith lyrics on the partial copy: exit 3 at stage lyrics: {errors[0]['message']}")


def test_edit_path_matches_upstream_encode_and_cfm_sample(install, tmp_path, env_cache):
    """Editing: our windowed encode against upstream's `encode_audio(chunked=True)`, then our sampler with a
    non-zero cond and spans against upstream's `CFM.sample` with the same cond and `latent_pred_segments`
    (float32, same seed); a batch of 2 against `batch_infer_num=2` (upstream reseeds every row alike, so
    only our candidate 1 has upstream's seed)."""
    from runner.encode import draw_latent, encode_windows
    from runner.reference import read_song
    from runner.sampler import sample
    from runner.spans import parse_spans, span_frames
    from runner.wavio import write_wav_atomic

    fns = upstream_functions(install["upstream"], ("encode_audio",))
    comps = load_diffrhythm(install["root"], install["models"], 95, "cpu", torch.float32, lambda _m: None)
    frames, max_frames, steps, seed = 2048, comps.max_frames, 4, 99

    # a real song file -> our reference latent; upstream's chunked encode of the same audio must agree
    t = torch.arange(frames * 2048, dtype=torch.float32) / 44100
    song = tmp_path / "song.wav"
    write_wav_atomic(song, torch.stack([torch.sin(2 * torch.pi * 220 * t), torch.sin(2 * torch.pi * 330 * t)]) * 0.3)
    audio = read_song(str(song), "song to edit", frames * 2048)
    ours_moments = encode_windows(comps.vae, audio, 128, 32)
    up_moments = fns["encode_audio"](audio.unsqueeze(0), comps.vae, chunked=True)
    assert up_moments.shape == ours_moments.shape == (1, 128, frames)
    assert torch.equal(ours_moments, up_moments.float())
    cond = draw_latent(ours_moments, seed)
    cond = cond + torch.randn(cond.shape, generator=torch.Generator().manual_seed(5))  # a latent with texture

    spans = span_frames(parse_spans(["[[10,25],[80,-1]]"]), frames * 2048 / 44100, frames)
    assert spans == [(215, 538), (1722, frames)]
    lines = parse_lrc((install["upstream"] / "infer" / "example" / "eg_en.lrc").read_text(encoding="utf-8")).lines
    tokens = build_token_row(lines, VocabTokenize(install["upstream"]), 95, max_frames).tokens
    style = install["style"]
    CFM = sys.modules["model.cfm"].CFM
    cfm = CFM(transformer=comps.transformer, num_channels=64, max_frames=max_frames)
    up, _ = cfm.sample(
        cond=cond, text=tokens[None], duration=frames, style_prompt=style, negative_style_prompt=comps.negative_style,
        steps=steps, cfg_strength=4.0, seed=seed, start_time=torch.tensor([0.0]), latent_pred_segments=spans,
        song_duration=torch.tensor([frames / max_frames]), max_duration=max_frames, batch_infer_num=2,
    )
    expected = up[0]
    assert torch.equal(up[0], up[1])  # upstream: the same seed for every row of a batch
    args = (comps.transformer, cond, tokens, style, comps.negative_style, torch.tensor([0.0]),
            torch.tensor([frames / max_frames]))
    ours = sample(*args, steps=steps, cfg=4.0, seed=seed, spans=spans)
    batch = sample(*args, steps=steps, cfg=4.0, seed=seed, spans=spans, batch=2)
    inside = torch.zeros(frames, dtype=torch.bool)
    for a, b in spans:
        inside[a:b] = True
    assert torch.equal(ours[0, ~inside], cond[0, ~inside]) and torch.equal(expected[0, ~inside], cond[0, ~inside])
    rel = _rel(ours[:, inside], expected[:, inside])
    rel_batch = _rel(batch[:1, inside], expected[:, inside])
    print(f"\nedit: encode identical to upstream's encode_audio(chunked=True); spans {spans}; relative L2 in the "
          f"spans vs upstream CFM.sample: {rel:.2e} (single), {rel_batch:.2e} (candidate 1 of a batch of 2); "
          f"frames outside the spans bit-identical to cond in both")
    assert rel < 1e-4 and rel_batch < 1e-4
    other = sample(*args, steps=steps, cfg=4.0, seed=seed + 1, spans=spans)  # the comparison can tell seeds apart
    assert _rel(other[:, inside], expected[:, inside]) > 1e-2 and _rel(expected[:, inside], cond[:, inside]) > 1e-2
