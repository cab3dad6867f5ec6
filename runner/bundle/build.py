"""Write the tiny bundle to a folder: real checkpoint, TorchScript VAE, style encoder, vocab, negative style."""

from __future__ import annotations

import json
import string
import warnings
from pathlib import Path

import numpy as np
import torch

from runner.bundle.nets import TinyCFM, TinyDiT, TinyMuLan, TinyVAE

FORMAT = 1
MAX_FRAMES = 256  # 11.9 s of audio: the bundle's own "full length"
DIT_CONFIG = {"dim": 64, "depth": 2, "heads": 4, "ff_mult": 2, "text_dim": 32, "text_num_embeds": 64,
              "cond_dim": 64, "max_frames": MAX_FRAMES}
FILES = {"cfm": "cfm_model.pt", "vae": "vae_model.pt", "style": "style_encoder.pt",
         "vocab": "vocab.json", "negative_style": "negative_style.npy"}


def vocab() -> dict[str, int]:
    """Character "phones": "," -> 0 and "." -> 1 like upstream's ids before the +1 shift."""
    table = {",": 0, ".": 1, " ": 2, "'": 3}
    for ch in string.ascii_lowercase + string.digits:
        table[ch] = len(table)
    return table


def build(folder: Path | str, seed: int = 1234) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfm = TinyCFM(TinyDiT(**DIT_CONFIG))
    torch.save({"model_state_dict": cfm.state_dict()}, folder / FILES["cfm"])
    with warnings.catch_warnings():  # TorchScript is deprecated, but it is what DiffRhythm's VAE file is
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(TinyVAE().eval()), str(folder / FILES["vae"]))
    torch.save({"model_state_dict": TinyMuLan().state_dict()}, folder / FILES["style"])
    (folder / FILES["vocab"]).write_text(json.dumps({"vocab": vocab()}, indent=1), encoding="utf-8")
    negative = torch.nn.functional.normalize(torch.randn(1, 512), dim=-1).numpy().astype(np.float32)
    np.save(folder / FILES["negative_style"], negative)
    manifest = {"format": FORMAT, "seed": seed, "max_frames": MAX_FRAMES, "dit": DIT_CONFIG, "files": FILES}
    (folder / "bundle.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return folder
