"""Environment creation from one lock: uv against pip, side by side in one run.

    python tests/bench/bench_env_create.py [--lock LOCK] [--index-url URL] [--find-links DIR ...] [--repeat N]

Both build a fresh venv holding exactly the lock with the commands `drdoctor install` runs
(doctor.install.environment.create_commands: `uv venv` + `uv pip sync --require-hashes`, or `python -m venv`
+ `pip install --no-deps --require-hashes -r`). Each tool is timed with an empty cache of its own (a first
install: every file unpacked, downloaded when the sources are remote) and with that cache warm (a rebuild).
Without --lock the bench locks `torch==2.13.0` + numpy from this machine's configured local sources (pip's
config: a local index and wheel folder), so it runs offline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "install"))

from doctor.fixes.context import PipSource
from doctor.install.environment import create_commands, read_lock
from doctor.install.lock import uv_binary


def default_lock(folder: Path, sources: PipSource) -> Path:
    inputs = folder / "bench.in"
    inputs.write_text("torch==2.13.0\nnumpy\n", encoding="utf-8")
    out = folder / "bench.txt"
    argv = [uv_binary(), "pip", "compile", "--quiet", "--generate-hashes", "--python-version",
            f"{sys.version_info[0]}.{sys.version_info[1]}", *sources.args(), str(inputs), "-o", str(out)]
    subprocess.run(argv, check=True, timeout=600)
    text = out.read_text(encoding="utf-8")
    header = ('# drdoctor-lock: {"variant": "cpu", "torch": "2.13.0", "python": "%d.%d", "index": null}\n'
              % sys.version_info[:2])
    out.write_text(header + text, encoding="utf-8")
    return out


def build_once(tool: str, lock_path: Path, sources: PipSource, cache: Path, where: Path) -> float:
    lock = read_lock(lock_path)
    folder = where / f"env-{tool}"
    shutil.rmtree(folder, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update({"UV_CACHE_DIR": str(cache), "PIP_CACHE_DIR": str(cache), "PIP_CONFIG_FILE": os.devnull,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    started = time.perf_counter()
    for argv in create_commands(tool, sys.executable, folder, lock, sources.args()):
        subprocess.run(argv, check=True, timeout=3600, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    check = subprocess.run([str(folder / "bin" / "python"), "-c", "import torch, numpy; print(torch.__version__)"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    shutil.rmtree(folder, ignore_errors=True)
    return seconds


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--lock")
    p.add_argument("--index-url")
    p.add_argument("--find-links", action="append", default=[])
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    if args.index_url or args.find_links:
        sources = PipSource(args.index_url, tuple(args.find_links))
    elif args.lock:
        sources = PipSource()
    else:
        from conftest import configured_sources

        index, links = configured_sources()
        sources = PipSource(index, tuple(links))
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        where = Path(tmp)
        lock = Path(args.lock) if args.lock else default_lock(where, sources)
        info = read_lock(lock)
        print(f"lock: {lock} ({info.packages} packages); sources: {' '.join(sources.args()) or 'PyPI'}")
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; uv {subprocess.run([uv_binary(), '--version'], capture_output=True, text=True).stdout.strip()}")
        results: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.repeat):
            for tool in ("uv", "pip"):  # interleaved, so a busy moment hits both
                cache = where / f"cache-{tool}-{round_}"
                shutil.rmtree(cache, ignore_errors=True)
                results.setdefault((tool, "cold cache"), []).append(build_once(tool, lock, sources, cache, where))
                results.setdefault((tool, "warm cache"), []).append(build_once(tool, lock, sources, cache, where))
                shutil.rmtree(cache, ignore_errors=True)
        print(f"\n{'tool':<5} {'cache':<11} {'runs (s)':<24} {'best (s)':>8}")
        for (tool, state), runs in results.items():
            print(f"{tool:<5} {state:<11} {', '.join(f'{r:.2f}' for r in runs):<24} {min(runs):>8.2f}")
        for state in ("cold cache", "warm cache"):
            ratio = min(results[("pip", state)]) / min(results[("uv", state)])
            print(f"pip / uv, {state}: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
