"""A real DiffRhythm checkout + local weights -> `Components` for the pipeline.

The weights come from the one resolver (runner.model_paths -> runner.hf_cache); HF_HUB_OFFLINE is settled
(runner.hub_env: offline unless the launcher allowed look-ups) before anything from Hugging Face is imported.
Every file read is fingerprinted into `Components.files`.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from runner import hub_env
from runner.checkout_import import import_g2p, import_model_code
from runner.components import FULL_MAX_FRAMES, Components
from runner.errors import EnvironmentProblem, RunError
from runner.family import family, hf_download_command
from runner.model_paths import ModelPaths, Resolved, resolve
from runner.package_rules import package_rule
from runner.weights import (
    TORCHSCRIPT,
    CheckpointMismatch,
    check_file,
    fingerprint,
    load_state_dict_checked,
)

CONFIG_REL = "config/diffrhythm-1b.json"
NEGATIVE_STYLE_REL = "infer/example/vocal.npy"


def _check_transformers() -> None:
    """When the checkout's model code imported transformers, refuse the versions its DiT fails with."""
    transformers = sys.modules.get("transformers")
    if transformers is None:
        return
    rule = package_rule("transformers")
    version = getattr(transformers, "__version__", "0")
    if not rule.accepts(version):
        raise EnvironmentProblem(
            f"transformers {version} is installed; DiffRhythm's DiT only runs with transformers {rule.works} "
            f"({rule.breaks})",
            f"pip install {rule.requirement}",
        )


def _read_config(root: Path) -> dict[str, Any]:
    path = root / CONFIG_REL
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data["model"])
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{path} is missing", f"{root} is not a complete DiffRhythm checkout") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnvironmentProblem(
            f"{path} cannot be read as a DiffRhythm config ({exc})", "restore it: `git checkout -- config/`"
        ) from exc


def _negative_style(root: Path, device: torch.device | str) -> torch.Tensor:
    path = root / NEGATIVE_STYLE_REL
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{path} is missing (the negative style)", f"restore it: `cd {root} && git checkout -- infer/`") from exc
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"{path} cannot be read as a numpy array ({exc})", f"restore it: `cd {root} && git checkout -- infer/`") from exc
    tensor = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if tensor.numel() != 512:
        raise EnvironmentProblem(f"{path} has shape {tuple(tensor.shape)}, expected [1, 512]", f"restore it: `cd {root} && git checkout -- infer/`")
    return tensor.reshape(1, 512).to(device)


def _load_vae(path: Path, device: torch.device | str) -> Any:
    check_file(path, "VAE", TORCHSCRIPT, "vae")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what the VAE file is
            vae = torch.jit.load(str(path), map_location=device)
    except Exception as exc:
        raise EnvironmentProblem(
            f"VAE file {path} is truncated or not a TorchScript archive: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            f"download it again: `{hf_download_command(family().weight('vae'), force=True)}`",
        ) from exc
    if not hasattr(vae, "decode_export"):
        raise EnvironmentProblem(f"VAE file {path} has no decode_export method: not DiffRhythm's VAE", "use ASLP-lab/DiffRhythm-vae's vae_model.pt")
    vae.eval()
    return vae


def _muq_weights(folder: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return folder / name
    return None


def _muq_import_problem(exc: ImportError) -> EnvironmentProblem:
    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if missing == "muq":
        return EnvironmentProblem("the style encoder needs the package muq, which is not installed", "pip install muq")
    if missing == "torchaudio" or "torchaudio" in str(exc):
        # muq imports torchaudio at import time (its audio branch builds torchaudio transforms), and
        # torchaudio's last release is 2.11: with torch 2.12 or newer no style can be computed.
        return EnvironmentProblem(
            f"the style encoder (muq) needs torchaudio, which cannot be imported beside torch {torch.__version__} "
            f"({exc}); torchaudio's last release is 2.11, for torch 2.11",
            "use torch 2.11 with torchaudio 2.11 in this environment (or the CUDA container), or reuse a style "
            "computed before: the same --style text or clip with the same MuQ-MuLan files comes from the cache",
        )
    return EnvironmentProblem(
        f"the style encoder (muq) does not import: {exc}",
        f"install what it needs: `pip install muq {missing}`".rstrip(),
    )


def _style_downloads(cache: Path | None) -> str:
    return " and ".join(f"`{hf_download_command(family().weight(r), cache)}`" for r in ("muq", "muq_audio", "xlmr"))


def _muq_factory(paths: Resolved, device: torch.device | str) -> Callable[[], Callable[..., torch.Tensor]]:
    folder = paths.muq

    def build() -> Callable[..., torch.Tensor]:
        if folder is None:
            problem, _, fix = paths.style_problem.partition("; ")
            raise EnvironmentProblem(
                f"no usable MuQ-MuLan model (needed to compute a style that is not cached): {problem}",
                fix or f"download it: {_style_downloads(None)}",
            )
        hub_env.settle()
        try:
            from muq import MuQMuLan
        except ImportError as exc:
            raise _muq_import_problem(exc) from exc
        try:
            # its audio and text models are loaded by repository id: from the cache the resolver found them in
            mulan = MuQMuLan.from_pretrained(str(folder), cache_dir=str(paths.style_cache)).to(device).eval()
        except RunError:
            raise
        except Exception as exc:
            raise EnvironmentProblem(
                f"MuQ-MuLan could not be loaded from {folder} offline: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                f"download MuQ-MuLan's three repositories into one Hugging Face cache once with the network: "
                f"{_style_downloads(paths.style_cache)}, then run again",
            ) from exc

        def encode(**kwargs: Any) -> torch.Tensor:
            moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
            with torch.no_grad():
                return mulan(**moved)

        return encode

    return build


PARTS = ("dit", "vae", "style")


def _muq_identity(paths: Resolved, files: list[dict[str, Any]]) -> str:
    weights = _muq_weights(paths.muq) if paths.muq else None
    if weights is not None:
        files.append(fingerprint(weights, "muq"))
    if paths.muq_revision:
        return f"MuQ-MuLan-large@{paths.muq_revision}"
    if weights is not None:
        return f"MuQ-MuLan-large@sha256:{files[-1]['sha256'][:16]}"
    return "MuQ-MuLan-large@unavailable"


def load_diffrhythm(
    root: Path | str,
    models: ModelPaths | dict[str, Any] | str | Path | None,
    length_s: float,
    device: torch.device | str,
    dtype: torch.dtype,
    emit_warning: Callable[[str], None],
    *,
    max_frames: int | None = None,
    parts: Iterable[str] = PARTS,
) -> Components:
    """Components for the checkout at `root`. `parts` limits what is loaded, as for the bundle: a run resumed
    from its latents needs only ("vae",); without "dit" the transformer is an Identity placeholder."""
    from runner.tokens import max_frames_for

    hub_env.settle()
    parts = set(parts)
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise EnvironmentProblem(f"DiffRhythm checkout {root} does not exist", "give --diffrhythm the checkout folder")
    max_frames = max_frames or max_frames_for(length_s)
    paths = resolve(root, ModelPaths.from_any(models), max_frames, need_cfm="dit" in parts, need_vae="vae" in parts)
    files: list[dict[str, Any]] = []

    transformer: torch.nn.Module = torch.nn.Identity()
    if "dit" in parts:
        assert paths.cfm is not None
        config = _read_config(root)
        CFM, DiT = import_model_code(root, emit_warning)
        _check_transformers()
        files.append(fingerprint(root / CONFIG_REL, "config"))
        files.append(fingerprint(paths.cfm, "cfm"))
        try:
            cfm = CFM(transformer=DiT(**config, max_frames=max_frames), num_channels=config.get("mel_dim", 64),
                      max_frames=max_frames)
        except (TypeError, ValueError) as exc:
            raise EnvironmentProblem(
                f"the checkout's DiT cannot be built from {root / CONFIG_REL}: {exc}", "restore the checkout's config"
            ) from exc
        try:
            load_state_dict_checked(cfm, paths.cfm, role="DiT checkpoint",
                                    weight="cfm" if max_frames != FULL_MAX_FRAMES else "cfm_full")
        except CheckpointMismatch as exc:
            if max_frames == FULL_MAX_FRAMES and any(k.startswith("transformer.duration_time_embed.") for k in exc.missing):
                raise EnvironmentProblem(
                    f"DiT checkpoint {paths.cfm} is a base (95 s) checkpoint: it has no duration embedding, which the "
                    f"full model (96-285 s) needs ({exc.message})",
                    f"download the full model for songs over 95 s: `{hf_download_command(family().weight('cfm_full'))}`, "
                    "or ask for 95 s",
                ) from exc
            raise
        transformer = cfm.to(device=device, dtype=dtype).eval().transformer

    vae = None
    if "vae" in parts:
        assert paths.vae is not None
        vae = _load_vae(paths.vae, device)
        files.append(fingerprint(paths.vae, "vae"))

    negative = torch.zeros(1, 512, device=device)
    factory = None
    tokenize = None
    encoder_id = "MuQ-MuLan-large@unavailable"
    if "style" in parts:
        negative = _negative_style(root, device)
        files.append(fingerprint(root / NEGATIVE_STYLE_REL, "negative_style"))
        encoder_id = _muq_identity(paths, files)
        factory = _muq_factory(paths, device)
        tokenizer_state: dict[str, Callable[[str], list[int]]] = {}

        def tokenize(text: str) -> list[int]:
            # the g2p is imported on first use: an instrumental never needs it (nor espeak-ng)
            if "fn" not in tokenizer_state:
                tokenizer_state["fn"] = import_g2p(root)
            return tokenizer_state["fn"](text)

    return Components(
        transformer=transformer,
        max_frames=max_frames,
        vae=vae,
        tokenize=tokenize,
        negative_style=negative,
        style_encoder_factory=factory,
        style_encoder_id=encoder_id,
        files=files,
        warnings=[],
    )
