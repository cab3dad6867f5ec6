"""Read a tiny bundle folder into `Components`, through the same guarded loaders as real weights."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from runner.bundle.build import vocab as default_vocab
from runner.bundle.faults import FaultyDiT, FaultyVAE, damaged_copy
from runner.bundle.nets import TinyCFM, TinyDiT, TinyMuLan
from runner.components import Components
from runner.errors import EnvironmentProblem
from runner.weights import fingerprint, load_state_dict_checked

PARTS = ("dit", "vae", "style")


def read_manifest(root: Path) -> dict:
    path = root / "bundle.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EnvironmentProblem(f"{path} does not exist: not a bundle folder",
                                 "build one: python -m runner.bundle build DIR") from None
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"{path} cannot be read: {exc}", "rebuild the bundle") from None


def load_bundle(
    root: Path | str,
    *,
    device: torch.device,
    dtype: torch.dtype,
    faults: dict[str, str] | None = None,
    parts: Iterable[str] = PARTS,
    scratch: Path | None = None,
    emit_warning: Callable[[str], None] | None = None,
) -> Components:
    """`parts` limits what is loaded (a resumed run needs only the VAE); `scratch` holds damaged copies."""
    root = Path(root)
    faults = faults or {}
    parts = set(parts)
    manifest = read_manifest(root)
    names = manifest["files"]
    files: list[dict] = []
    notes: list[str] = []

    transformer: torch.nn.Module = torch.nn.Identity()
    if "dit" in parts:
        ckpt = root / names["cfm"]
        for kind in ("truncated_ckpt", "lfs_pointer", "wrong_ckpt"):
            if kind in faults:
                ckpt = damaged_copy(ckpt, kind, scratch or root / "faults")
        cfm = TinyCFM(TinyDiT(**manifest["dit"]))
        report = load_state_dict_checked(cfm, ckpt, role="cfm")
        notes += report.warnings
        files.append(fingerprint(ckpt, "cfm"))
        transformer = cfm.transformer.to(device=device, dtype=dtype).eval()
        nan_at, nan_row = faults.get("nan_at"), faults.get("nan_row")
        if nan_at is not None or nan_row or "collapse" in faults or "slow" in faults:
            transformer = FaultyDiT(
                transformer, int(nan_at) if nan_at else None, "collapse" in faults,
                float(faults.get("slow") or 0.0), int(nan_row) if nan_row else None,
            ).eval()

    vae = None
    if "vae" in parts:
        vae_path = root / names["vae"]
        try:
            with warnings.catch_warnings():  # DiffRhythm's VAE is TorchScript, deprecated or not
                warnings.simplefilter("ignore", DeprecationWarning)
                vae = torch.jit.load(str(vae_path), map_location=device).eval()
        except Exception as exc:  # noqa: BLE001 - any load failure is a broken file
            raise EnvironmentProblem(f"vae file {vae_path} cannot be loaded: {exc}", "rebuild the bundle") from exc
        files.append(fingerprint(vae_path, "vae"))
        for mode in ("vae_zeros", "white_noise", "vae_nan", "oom_decode", "oom_always"):
            if mode in faults:
                vae = FaultyVAE(vae, mode)

    factory = None
    negative = torch.zeros(1, 512)
    tokenize = None
    if "style" in parts:
        style_path = root / names["style"]
        files.append(fingerprint(style_path, "style_encoder"))

        def factory() -> Callable[..., torch.Tensor]:
            encoder = TinyMuLan()
            load_state_dict_checked(encoder, style_path, role="style_encoder")
            return encoder.eval()

        neg_path = root / names["negative_style"]
        negative = torch.from_numpy(np.load(neg_path)).float().reshape(1, 512)
        files.append(fingerprint(neg_path, "negative_style"))
        table = json.loads((root / names["vocab"]).read_text(encoding="utf-8")).get("vocab") or default_vocab()

        def tokenize(text: str) -> list[int]:
            return [table[ch] for ch in text.lower() if ch in table]

    style_id = next((f["sha256"][:16] for f in files if f["role"] == "style_encoder"), "none")
    return Components(
        transformer=transformer,
        max_frames=int(manifest["max_frames"]),
        vae=vae,
        tokenize=tokenize,
        negative_style=negative,
        style_encoder_factory=factory,
        style_encoder_id=f"bundle-{style_id}",
        files=files,
        warnings=notes,
    )
