"""A broken WSL2 machine in a folder, for the fix tests and tests/fixes/walkthrough.sh.

    python tests/fixes/broken_machine.py DIR     # builds DIR/root, DIR/venv, DIR/wheels, DIR/nvml.json

What is wrong with it:
- WSL2 seeing 7 GiB (WSL's default: half of a 14 GiB Windows host), less than the model needs, with a hand-written C:\\Users\\alice\\.wslconfig (CRLF,
  comments, other keys) that sets no memory= and a 2GB swap;
- the DiffRhythm venv has transformers 4.57.0 (upstream's DiT breaks from 4.54) and a +cpu torch although
  the NVIDIA driver (recorded NVML snapshot: CUDA 12.6, an RTX 3060, sm_86) works;
- the checkout's ./pretrained holds a git-lfs pointer for the VAE; the real weights lie in
  ~/.cache/huggingface/hub (DiT, MuQ-MuLan, xlm-roberta) and /data/models (the VAE); the full DiT's
  download was interrupted (a blobs/*.incomplete).
Weight files are sparse: their sizes are real, their disk use is nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from fixtools import WHEELS, build_wheel  # noqa: E402
from weight_fixtures import family_weights, safetensors, sized, torch_zip, torchscript  # noqa: E402

HOME = "/home/alice"
CHECKOUT = f"{HOME}/DiffRhythm"
HF_CACHE = f"{HOME}/.cache/huggingface/hub"
MODELS = "/data/models"
REV = "5d2b5e9e0c6f4a1b8e3f7a9c2d4b6e8f0a1c3e5d"
WSLCONFIG = (
    "# WSL2 settings (hand-written; keep my comments)\r\n"
    "[wsl2]\r\n"
    "processors=8          # leave some for Windows\r\n"
    "swap=2GB\r\n"
    "localhostForwarding=true\r\n"
    "\r\n"
    "[experimental]\r\n"
    "autoMemoryReclaim=gradual\r\n"
)
NVML = {
    "status": "ok", "driver_version": "560.94", "cuda_driver_version": 12060,
    "devices": [{"name": "NVIDIA GeForce RTX 3060", "memory_total": 12884901888, "memory_free": 12000000000,
                 "compute_capability": [8, 6]}],
}


def _file(path: Path, text: str | bytes = "", size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    if size is not None:
        with path.open("r+b") as handle:
            handle.truncate(size)  # sparse
    return path


def _blob(cache: Path, repo: str, name: str, size: int, sha: str, pointer: bool = False) -> None:
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob = folder / "blobs" / sha
    if pointer:
        _file(blob, f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n")
    else:  # the format its name says (what the probe reads first), sparse up to the size
        sized(blob, torchscript() if name == "vae_model.pt" else safetensors() if name.endswith(".safetensors")
              else torch_zip(), size)
    link = folder / "snapshots" / REV / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    _file(folder / "refs" / "main", REV)


def build_root(root: Path) -> Path:
    _file(root / "proc/version", "Linux version 5.15.167.4-microsoft-standard-WSL2 (root@1a2b) #1 SMP\n")
    _file(root / "proc/sys/kernel/osrelease", "5.15.167.4-microsoft-standard-WSL2\n")
    _file(root / "proc/meminfo", "MemTotal:        7340032 kB\nMemFree:         6900000 kB\n"
          "MemAvailable:    7000000 kB\nSwapTotal:       2097152 kB\nSwapFree:        2097152 kB\n")
    _file(root / "etc/os-release", 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')
    (root / "dev").mkdir(exist_ok=True)
    _file(root / "dev/dxg")
    _file(root / "usr/lib/wsl/lib/libcuda.so.1", b"\x7fELF", 4096)
    _file(root / "mnt/c/Users/alice/.wslconfig", WSLCONFIG.encode())
    (root / "mnt/c/Users/Public").mkdir(parents=True, exist_ok=True)
    # espeak-ng with every voice, so this walkthrough is about the other problems
    espeak = _file(root / "usr/bin/espeak-ng",
                   "#!/bin/sh\necho 'Pty Language       Age/Gender VoiceName          File                 Other Languages'\n"
                   + "".join(f"echo ' 5  {v:<15}    --/M      {v:<18} x/{v}'\n" for v in ("cmn", "en-us", "ko", "fr-fr", "de")))
    espeak.chmod(0o755)
    _file(root / "usr/lib/x86_64-linux-gnu/libespeak-ng.so.1", b"\x7fELF", 4096)
    # the checkout
    co = root / CHECKOUT.lstrip("/")
    for rel, size in (("model/cfm.py", 4000), ("model/dit.py", 4000), ("infer/infer.py", 4000),
                      ("config/diffrhythm-1b.json", 200), ("g2p/g2p/vocab.json", 4000), ("infer/example/vocal.npy", 2176),
                      ("g2p/sources/chinese_lexicon.txt", 5 << 20), ("g2p/sources/g2p_chinese_model/poly_bert_model.onnx", 5 << 20)):
        _file(co / rel, "#", size)
    _file(co / "requirements.txt", "torch==2.6.0\ntorchaudio==2.6.0\ntransformers==4.49.0\nmuq\n")
    _blob(co / "pretrained", "ASLP-lab/DiffRhythm-vae", "vae_model.pt", 0, "a" * 64, pointer=True)
    # the weights elsewhere
    cache = root / HF_CACHE.lstrip("/")
    _blob(cache, "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", 2_200_000_000, "b" * 64)
    _blob(cache, "OpenMuQ/MuQ-MuLan-large", "model.safetensors", 2_800_000_000, "c" * 64)
    _blob(cache, "FacebookAI/xlm-roberta-base", "model.safetensors", 1_100_000_000, "d" * 64)
    family_weights(cache, ("muq", "muq_audio", "xlmr"), REV)  # the other files of these whole repositories
    _file(cache / "models--ASLP-lab--DiffRhythm-1_2-full" / "blobs" / ("e" * 64 + ".incomplete"), b"\0", 300_000_000)
    sized(root / MODELS.lstrip("/") / "DiffRhythm-vae" / "vae_model.pt", torchscript(), 45_000_000)
    return root


def build(base: Path, venv_template: Path | None = None) -> dict[str, Path]:
    base.mkdir(parents=True, exist_ok=True)
    root = build_root(base / "root")
    wheels = base / "wheels"
    wheels.mkdir(exist_ok=True)
    for name, version, files in WHEELS:
        build_wheel(wheels, name, version, files)
    venv = base / "venv"
    if venv_template is not None:
        shutil.copytree(venv_template, venv, symlinks=True)  # see conftest.copy_venv
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
                    "--find-links", str(wheels), "transformers==4.57.0", "torch==2.13.0+cpu"], check=True, env=env)
    nvml = base / "nvml.json"
    nvml.write_text(json.dumps(NVML, indent=1))
    return {"root": root, "wheels": wheels, "venv": venv, "python": venv / "bin/python", "nvml": nvml}


if __name__ == "__main__":
    for key, value in build(Path(sys.argv[1]).resolve()).items():
        print(f"{key}={value}")
