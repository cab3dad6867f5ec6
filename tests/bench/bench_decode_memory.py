"""Benchmark (d): peak memory of chunked vs whole VAE decode as the song grows.

    .venv/bin/python tests/bench/bench_decode_memory.py [--lengths 30 60 120 240]

Each (length, mode) decodes in a FRESH subprocess with the tiny bundle's TorchScript VAE and reports
its peak RSS growth (ru_maxrss after - before, so the torch import and the latents are not counted),
and that minus the returned audio buffer itself ("working memory"). Modes alternate per length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import gc, json, resource, sys, torch
from runner.decode import decode
vae = torch.jit.load(sys.argv[1])
frames, chunked = int(sys.argv[2]), sys.argv[3] == "chunked"
latents = torch.randn(1, frames, 64)
with torch.no_grad():
    vae.decode_export(torch.randn(1, 64, 8))  # warm up the TorchScript graph
gc.collect()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
audio = decode(vae, latents, chunked=chunked)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mib": (after - before) / 1024, "audio_mib": audio.numel() * 4 / 2**20}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lengths", type=float, nargs="+", default=[30, 60, 120, 240])
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    from runner.bundle.build import build

    with tempfile.TemporaryDirectory() as tmp:
        bundle = build(Path(tmp) / "b")
        print(f"{'length':>7} {'frames':>6} | {'whole peak':>10} {'chunked peak':>12} | {'whole work':>10} "
              f"{'chunked work':>12} | whole/chunked work   (MiB; work = peak - output buffer)")
        for length in args.lengths:
            frames = int(length * 44100 / 2048)
            res = {}
            for mode in ("whole", "chunked"):
                out = subprocess.run([sys.executable, "-c", CHILD, str(bundle / "vae_model.pt"), str(frames), mode],
                                     capture_output=True, text=True, timeout=600, cwd=REPO,
                                     env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
                res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            w, c = res["whole"], res["chunked"]
            ww, cw = w["peak_mib"] - w["audio_mib"], c["peak_mib"] - c["audio_mib"]
            print(f"{length:6.0f}s {frames:6d} | {w['peak_mib']:10.1f} {c['peak_mib']:12.1f} | {ww:10.1f} {cw:12.1f} | "
                  f"{ww / max(cw, 0.1):.1f}x")


if __name__ == "__main__":
    main()
