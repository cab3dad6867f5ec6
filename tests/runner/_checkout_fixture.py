"""A small stand-in for a DiffRhythm checkout, written into a temporary folder.

It has the traits the loader must cope with, with code of our own (nothing here comes from upstream):
- `model/__init__.py` raises if it is ever run;
- `model/modules.py` imports torchaudio at import time;
- `model/dit.py` is a small DiT-shaped network with upstream's forward signature and the extra
  duration embedding for max_frames == 6144;
- `g2p/g2p_generation.py` opens `./g2p/g2p/vocab.json` relative to the current directory at import
  and imports a sibling module through the checkout being on sys.path;
- weights in the Hugging Face cache layout under `pretrained/`.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np
import torch

CONFIG = {"dim": 32, "depth": 2, "heads": 4, "ff_mult": 2, "text_dim": 16, "conv_layers": 1, "mel_dim": 64, "text_num_embeds": 40}

MODEL_INIT = 'raise RuntimeError("model/__init__.py ran: it imports the training code and must not run")\n'

MODULES = '''
import math

import torch
import torchaudio  # training-time only, like the real checkout
from torch import nn


class TimeEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        angles = t.float()[:, None] * 1000.0 * freqs[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1).to(self.mlp[0].weight.dtype))


class TrainingMel(nn.Module):
    def __init__(self):
        super().__init__()
        self.stft = torchaudio.transforms.MelSpectrogram()
'''

DIT = '''
import torch
from torch import nn

from model.modules import TimeEmbed


class DiT(nn.Module):
    def __init__(self, *, dim, depth=2, heads=4, ff_mult=2, mel_dim=64, text_num_embeds=40, text_dim=16,
                 conv_layers=0, max_frames=2048):
        super().__init__()
        self.dim, self.max_frames = dim, max_frames
        cond_dim = 32
        self.time_embed = TimeEmbed(cond_dim)
        self.start_time_embed = TimeEmbed(cond_dim)
        self.duration_time_embed = TimeEmbed(cond_dim) if max_frames == 6144 else None
        self.text_embed = nn.Embedding(text_num_embeds + 1, text_dim)
        self.convs = nn.ModuleList([nn.Conv1d(text_dim, text_dim, 3, padding=1) for _ in range(conv_layers)])
        self.style_proj = nn.Linear(512, cond_dim)
        self.input_proj = nn.Linear(mel_dim * 2 + text_dim, dim)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(dim, heads, dim * ff_mult, dropout=0.0, batch_first=True)
            for _ in range(depth)
        ])
        self.cond_proj = nn.Linear(cond_dim, dim)
        self.proj_out = nn.Linear(dim, mel_dim)

    def forward(self, x, cond, text, time, drop_audio_cond, drop_text, drop_prompt=False, style_prompt=None,
                start_time=None, duration=None):
        batch, frames = x.shape[0], x.shape[1]
        if time.ndim == 0:
            time = time.repeat(batch)
        c = self.time_embed(time) + self.start_time_embed(start_time)
        if self.duration_time_embed is not None:
            c = c + self.duration_time_embed(duration)
        if drop_prompt:
            style_prompt = torch.zeros_like(style_prompt)
        c = c + self.style_proj(style_prompt)
        if drop_text:
            text = torch.zeros_like(text)
        t = self.text_embed(text[:, :frames])
        for conv in self.convs:
            t = t + conv(t.transpose(1, 2)).transpose(1, 2)
        if drop_audio_cond:
            cond = torch.zeros_like(cond)
        h = self.input_proj(torch.cat([x, cond, t], dim=-1)) + self.cond_proj(c)[:, None]
        for block in self.blocks:
            h = block(h)
        return self.proj_out(h)
'''

CFM = '''
from torch import nn


class CFM(nn.Module):
    def __init__(self, transformer, num_channels=None, max_frames=2048, **kwargs):
        super().__init__()
        self.transformer = transformer
        self.num_channels = num_channels
        self.max_frames = max_frames
'''

G2P = '''
import json

from g2p.letters import split_letters  # needs the checkout on sys.path

with open("./g2p/g2p/vocab.json", encoding="utf-8") as handle:  # relative to the CURRENT DIRECTORY
    VOCAB = json.load(handle)["vocab"]


def chn_eng_g2p(text):
    phones = split_letters(text)
    return phones, [VOCAB[p] for p in phones if p in VOCAB]
'''

LETTERS = '''
def split_letters(text):
    return [ch if ch != " " else "_" for ch in text.lower()]
'''


class TinyVAE(torch.nn.Module):
    """A TorchScript-able stand-in with decode_export: [b, 64, f] -> [b, 2, f * 2048]."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Linear(64, 2)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decode_export(latents)

    @torch.jit.export
    def decode_export(self, latents: torch.Tensor) -> torch.Tensor:
        audio = self.mix(latents.transpose(1, 2)).transpose(1, 2)
        return torch.tanh(audio).repeat_interleave(2048, dim=2)

    @torch.jit.export
    def encode_export(self, audio: torch.Tensor) -> torch.Tensor:
        return audio[:, :1, ::2048].repeat(1, 128, 1)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def hf_put(pretrained: Path, repo: str, filename: str, data: bytes, revision: str = "0123abcd") -> Path:
    """Store `data` as a Hugging Face cache would: blobs/<sha256>, snapshots/<rev>/<file> -> blob, refs/main."""
    repo_dir = pretrained / ("models--" + repo.replace("/", "--"))
    blob = repo_dir / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo_dir / "snapshots" / revision / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../../blobs") / blob.name)
    _write(repo_dir / "refs" / "main", revision)
    return link


def build_network(max_frames: int = 2048):
    """The fixture's own CFM(DiT) built in this process from the fixture's source (for writing weights)."""
    import types

    namespace: dict = {}
    modules = types.ModuleType("fixture_modules")
    exec(compile(MODULES.replace("import torchaudio  # training-time only, like the real checkout", ""), "modules", "exec"), modules.__dict__)
    dit_src = DIT.replace("from model.modules import TimeEmbed", "")
    namespace.update(modules.__dict__)
    exec(compile(dit_src, "dit", "exec"), namespace)
    exec(compile(CFM, "cfm", "exec"), namespace)
    dit = namespace["DiT"](**CONFIG, max_frames=max_frames)
    return namespace["CFM"](transformer=dit, num_channels=64, max_frames=max_frames)


def checkpoint_bytes(tmp: Path, max_frames: int = 2048, seed: int = 0, ema: bool = False) -> tuple[bytes, dict]:
    torch.manual_seed(seed)
    state = build_network(max_frames).state_dict()
    payload = {"ema_model_state_dict": {f"ema_model.{k}": v for k, v in state.items()}} if ema else {"model_state_dict": state}
    path = tmp / f".ckpt-{max_frames}-{seed}.pt"
    torch.save(payload, path)
    data = path.read_bytes()
    path.unlink()
    return data, state


def vae_bytes(tmp: Path) -> bytes:
    torch.manual_seed(3)
    path = tmp / ".vae.pt"
    torch.jit.script(TinyVAE()).save(str(path))
    data = path.read_bytes()
    path.unlink()
    return data


def build_checkout(root: Path, *, weights: bool = True, g2p_large_files: bool = True, full: bool = False) -> dict:
    """Write the fixture checkout; returns {"state": base state dict, "full_state": ..., "cfm": path, "vae": path}."""
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "model" / "__init__.py", MODEL_INIT)
    _write(root / "model" / "modules.py", MODULES)
    _write(root / "model" / "dit.py", DIT)
    _write(root / "model" / "cfm.py", CFM)
    _write(root / "g2p" / "g2p_generation.py", G2P)
    _write(root / "g2p" / "letters.py", LETTERS)
    vocab = {"_": 0, ".": 1, ",": 2, **{chr(ord("a") + i): 3 + i for i in range(26)}}
    _write(root / "g2p" / "g2p" / "vocab.json", json.dumps({"vocab": vocab}))
    lexicon = root / "g2p" / "sources" / "chinese_lexicon.txt"
    onnx = root / "g2p" / "sources" / "g2p_chinese_model" / "poly_bert_model.onnx"
    _write(lexicon, "你 ni3\n" if g2p_large_files else "")
    _write(onnx, "not really onnx\n" if g2p_large_files else "")
    _write(root / "config" / "diffrhythm-1b.json", json.dumps({"model_type": "diffrhythm", "model": CONFIG}))
    (root / "infer" / "example").mkdir(parents=True, exist_ok=True)
    np.save(root / "infer" / "example" / "vocal.npy", np.linspace(-1, 1, 512, dtype=np.float32).reshape(1, 512))
    info: dict = {}
    if weights:
        pretrained = root / "pretrained"
        data, info["state"] = checkpoint_bytes(root, 2048, seed=0)
        info["cfm"] = hf_put(pretrained, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", data)
        info["vae"] = hf_put(pretrained, "ASLP-lab/DiffRhythm-vae", "vae_model.pt", vae_bytes(root))
        if full:
            data, info["full_state"] = checkpoint_bytes(root, 6144, seed=1)
            info["cfm_full"] = hf_put(pretrained, "ASLP-lab/DiffRhythm-1_2-full", "cfm_model.pt", data)
    return info
