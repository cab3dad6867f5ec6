"""`drdoctor selftest`: build the tiny bundle, run the whole pipeline on it, then break it on purpose.

Each fault must be caught at the right stage with the right exit code and leave no file at the output
path; the clean run must write a WAV. Runs `python -m runner` in a subprocess (no torch in drdoctor).
Exit 0 when everything behaves, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from doctor import config as config_mod
from doctor.launch import RunnerProcess, pick_python, runner_env
from runner.events import ExitCode, decode, problems

BAD_LRC = "[00:61.00] a stamp with 61 seconds\n[verse]\n[ti: no words at all]\n"  # untimed words would be timed
GOOD_LRC = "[00:00.50] hello from the self test.\n[00:03.00] second line\n[ar: someone]\n"


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int  # expected exit code
    stage: str | None  # stage the error must name (None for success)
    why: str
    cancel_then_resume: bool = False
    length: str | None = "3"  # seconds: 64 frames keep a case quick; None = the bundle's whole length


CASES: tuple[Case, ...] = (
    Case("pipeline", ("--lyrics", "{good_lrc}"), 0, None, "a clean run writes a WAV (the bundle's whole length)",
         length=None),
    Case("vae_zeros", ("--fault", "vae_zeros"), 4, "validate", "a VAE that decodes silence"),
    Case("vae_nan", ("--fault", "vae_nan"), 4, "validate", "a VAE that decodes NaN"),
    Case("white_noise", ("--fault", "white_noise"), 4, "validate", "audio that is white noise"),
    Case("nan_at_3", ("--fault", "nan_at:3"), 4, "sample", "the DiT turns NaN at step 3"),
    Case("collapse", ("--fault", "collapse"), 4, "sample", "latents collapse to a constant"),
    Case("truncated_ckpt", ("--fault", "truncated_ckpt"), 3, "load", "a checkpoint cut in half"),
    Case("lfs_pointer", ("--fault", "lfs_pointer"), 3, "load", "a git-lfs pointer instead of weights"),
    Case("wrong_ckpt", ("--fault", "wrong_ckpt"), 3, "load", "a checkpoint for another network"),
    Case("oom_once", ("--fault", "oom_decode"), 0, None, "decode runs out of memory, retries smaller windows",
         length=None),
    Case("oom_always", ("--fault", "oom_always"), 5, "decode", "decode out of memory at every window size"),
    Case("bad_lyrics", ("--lyrics", "{bad_lrc}"), 2, "preflight", "an LRC file without one timed line"),
    Case("bad_length", ("--length", "999"), 2, "preflight", "an impossible song length"),
    Case("timeout", ("--fault", "slow:0.3", "--timeout", "2"), 6, "sample", "a run past --timeout"),
    Case("crash", ("--fault", "crash"), 1, "write", "an unexpected error half way through writing"),
    Case("cancel_resume", ("--fault", "slow:0.05"), 130, "sample", "Ctrl-C mid-sample, then --resume",
         cancel_then_resume=True),
)


@dataclass
class Result:
    name: str
    why: str
    expected: str
    got: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _expect(code: int, stage: str | None) -> str:
    return f"exit {code}" + (f" at {stage}" if stage else "")


def _run_once(python: str, args: list[str], cancel: bool = False, threads: int = 1) -> tuple[int, list[dict[str, Any]], list[str]]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    runner = RunnerProcess(python, args, env=env)
    events: list[dict[str, Any]] = []
    found: list[str] = []
    sent = False
    for raw in runner.lines():
        event = decode(raw)
        if event is None:
            found.append(f"not an event on stdout: {raw[:80]!r}")
            continue
        found += problems(event)
        events.append(event)
        if cancel and not sent and event.get("type") == "stage_progress" and event.get("stage") == "sample":
            runner.interrupt()
            sent = True
    code = runner.wait(timeout=120)
    if not events or events[-1].get("type") != "run_finished":
        found.append("the stream does not end with run_finished" + (f"; stderr: {list(runner.stderr_tail)[-1:]}" if runner.stderr_tail else ""))
    return code, events, found


def run_case(case: Case, python: str, work: Path, bundle: Path) -> Result:
    start = time.monotonic()
    out = work / f"{case.name}.wav"
    files = {"good_lrc": str(work / "good.lrc"), "bad_lrc": str(work / "bad.lrc")}
    args = ["--bundle", str(bundle), "--style", "self-test pop", "--seed", "7", "--out", str(out),
            "--run-dir", str(work / "runs"), *(a.format(**files) for a in case.args)]
    if case.length and "--length" not in case.args:
        args += ["--length", case.length]
    code, events, found = _run_once(python, args, cancel=case.cancel_then_resume)
    error = next((e for e in events if e.get("type") == "error"), None)
    got_stage = error.get("stage") if error else None
    got = _expect(code, got_stage)
    ok = code == case.code and got_stage == case.stage and not found
    if case.code == 0 and not out.is_file():
        ok, got = False, got + ", but no WAV"
    if case.code != 0 and out.exists():
        ok, got = False, got + ", and a file at the output path"
    if case.name == "oom_once" and not any(e.get("type") == "warning" and e.get("stage") == "decode" for e in events):
        ok, got = False, got + ", without a decode warning"
    if case.cancel_then_resume and ok:
        folder = next((e.get("folder") for e in events if e.get("type") == "run_started"), None)
        code2, events2, found2 = _run_once(python, ["--resume", str(folder)])
        found += found2
        got += f"; resume: exit {code2}"
        ok = code2 == 0 and out.is_file() and not found2
    return Result(case.name, case.why, _expect(case.code, case.stage), got, ok, found, round(time.monotonic() - start, 2))


def build_bundle(python: str, folder: Path) -> None:
    subprocess.run([python, "-m", "runner.bundle", "build", str(folder)], check=True, env=runner_env(),
                   stdout=subprocess.DEVNULL, timeout=300)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="drdoctor selftest", description=__doc__.splitlines()[0])
    p.add_argument("--python", help="interpreter to test (default: config [diffrhythm] python, then this one)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (runs, WAVs, bundle)")
    p.add_argument("--only", action="append", metavar="CASE", help="run only these cases")
    p.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ns = p.parse_args(argv)
    try:
        config = config_mod.load()
    except config_mod.ConfigError:
        config = {}
    python = pick_python(ns.python, config)
    work = Path(ns.keep) if ns.keep else Path(tempfile.mkdtemp(prefix="drdoctor-selftest-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if not ns.only or c.name in ns.only]
    try:
        (work / "good.lrc").write_text(GOOD_LRC, encoding="utf-8")
        (work / "bad.lrc").write_text(BAD_LRC, encoding="utf-8")
        try:
            build_bundle(python, work / "bundle")
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"drdoctor selftest: cannot build the bundle with {python}: {exc}", file=sys.stderr)
            return 1
        with ThreadPoolExecutor(max_workers=max(1, ns.jobs)) as pool:
            results = list(pool.map(lambda c: run_case(c, python, work, work / "bundle"), cases))
    finally:
        if not ns.keep:
            shutil.rmtree(work, ignore_errors=True)
    all_ok = all(r.ok for r in results)
    if ns.json:
        print(json.dumps({"ok": all_ok, "python": python, "results": [asdict(r) for r in results]}, indent=1))
    else:
        width = max(len(r.name) for r in results)
        for r in results:
            print(f"{'ok  ' if r.ok else 'FAIL'} {r.name:<{width}}  expected {r.expected:<18} got {r.got:<28} "
                  f"{r.seconds:5.1f}s  {r.why}")
            for item in r.problems:
                print(f"       {item}")
        print(f"selftest {'passed' if all_ok else 'FAILED'}: {sum(r.ok for r in results)}/{len(results)} cases behave")
    return 0 if all_ok else int(ExitCode.FAILURE)
