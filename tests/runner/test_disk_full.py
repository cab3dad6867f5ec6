"""A disk that fills up while the run writes: exit 3 naming the disk and its free space, nothing half written,
and the run resumable. Real small tmpfs mounts (root only), filled for real until the kernel says ENOSPC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _runner_helpers import parse_stdout, runner_env

from runner import artifacts
from runner.emit import Emitter
from runner.request import Request
from runner.wavio import write_wav_atomic

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def tiny_disk(tmp_path):
    """mount(size) -> a folder that is a tmpfs of `size`; unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: str = "4m") -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path) -> Path:
    """Write a filler file until the filesystem is really full."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == 28
    return filler


WRITES = {
    "latents": lambda d: artifacts.save_latents(d, torch.randn(1, 300, 64), Request(seed=1)),
    "audio_raw": lambda d: artifacts.save_audio(d, torch.randn(2, 100_000)),
    "style": lambda d: artifacts.save_tensor(d, artifacts.STYLE, torch.randn(1, 512)),
    "request": lambda d: artifacts.write_json(d / artifacts.REQUEST, {"seed": 1, "pad": "x" * 20_000}),
    "manifest": lambda d: artifacts.write_json(d / artifacts.MANIFEST, {"ok": True, "pad": "x" * 20_000}),
    "lyrics": lambda d: artifacts.save_atomic_text(d / artifacts.LYRICS_TIMED, "[00:01.00] la\n" * 2000),
    "wav": lambda d: write_wav_atomic(d / "song.wav", torch.zeros(2, 100_000)),
}


@pytest.mark.parametrize("what", sorted(WRITES))
def test_every_artifact_write_on_a_full_disk_is_exit_3_and_leaves_nothing(tiny_disk, what):
    from runner.disk_space import DiskFull

    disk = tiny_disk("256k")
    fill(disk)
    with pytest.raises(DiskFull) as info:
        WRITES[what](disk)
    full = info.value
    assert int(full.code) == 3
    assert f"no space left on the disk of {disk}" in full.message and "0.0 MiB free of 0.2 MiB" in full.message
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no half file, no temporary file


def test_the_event_log_on_a_full_disk_keeps_whole_lines_and_stops_the_run_once(tiny_disk):
    from runner.disk_space import DiskFull

    disk = tiny_disk("64k")
    emitter = Emitter("r", None)
    emitter.attach_folder(disk / artifacts.EVENTS)
    emitter.emit("warning", stage="load", message="before")
    fill(disk)
    for n in range(50):  # the page the log already has fills up, then the disk says no
        emitter.emit("warning", stage="load", message=f"after {n} " + "x" * 100)
    with pytest.raises(DiskFull) as info:
        emitter.check()
    assert "while writing the event log" in info.value.message
    emitter.check()  # raised once: the error event that follows does not raise again
    emitter.emit("error", stage="load", code=3, message="m", remedy="r")
    emitter.close()
    lines = (disk / artifacts.EVENTS).read_bytes().split(b"\n")
    assert lines[-1] == b"" and [json.loads(line)["message"] for line in lines[:1]] == ["before"]
    assert all(json.loads(line) for line in lines[:-1])  # whole events only: no half line


def _start(tmp_path: Path, bundle: Path, out: Path, run_dir: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle), "--style", "x", "--seed", "3", "--length", "3",
            "--fault", "slow:0.05", "--out", str(out), "--run-dir", str(run_dir)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=runner_env(tmp_path))


def _run_filling(proc: subprocess.Popen, disk: Path) -> tuple[list[dict], str, Path]:
    """Fill `disk` once sampling has started; returns (events, stderr, filler)."""
    events, filler = [], None
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if filler is None and events[-1]["type"] == "stage_progress" and events[-1]["stage"] == "sample":
            filler = fill(disk)
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert filler is not None
    return events, stderr, filler


def _resume(tmp_path: Path, folder: str) -> tuple[int, list[dict]]:
    done = subprocess.run([sys.executable, "-m", "runner", "--resume", folder], capture_output=True,
                          env=runner_env(tmp_path), timeout=120)
    return done.returncode, parse_stdout(done.stdout)


def test_output_disk_full_while_the_wav_is_written_then_resumed(tmp_path, bundle_dir, tiny_disk):
    disk = tiny_disk("2m")
    out = disk / "song.wav"
    proc = _start(tmp_path, bundle_dir, out, tmp_path / "runs")
    events, stderr, filler = _run_filling(proc, disk)
    folder = events[0]["folder"]
    error = [e for e in events if e["type"] == "error"][0]
    assert proc.returncode == 3 and error["code"] == 3 and error["stage"] == "write"
    said = f"no space left on the disk of {disk} while writing the song {out}: 0.0 MiB free of 2.0 MiB"
    assert said in error["message"]
    assert "it needs about 0.5 MiB" in error["message"]
    assert error["remedy"].endswith(f"then continue this run with --resume {folder}")
    assert "Traceback" not in stderr
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]  # no song, no half song
    filler.unlink()
    code, again = _resume(tmp_path, folder)
    assert code == 0 and out.is_file()
    skipped = [e["stage"] for e in again if e["type"] == "stage_finished" and e.get("skipped")]
    assert skipped == ["load", "lyrics", "style", "sample", "decode"]  # the decoded audio was kept


def test_run_folder_disk_full_while_sampling_then_resumed(tmp_path, bundle_dir, tiny_disk):
    disk = tiny_disk("4m")
    out = tmp_path / "song.wav"
    proc = _start(tmp_path, bundle_dir, out, disk)
    events, stderr, filler = _run_filling(proc, disk)
    folder = Path(events[0]["folder"])
    error = [e for e in events if e["type"] == "error"][0]
    assert proc.returncode == 3 and error["code"] == 3 and error["stage"] == "sample"
    assert f"no space left on the disk of {folder}" in error["message"] and "MiB free of 4.0 MiB" in error["message"]
    assert error["remedy"].endswith(f"then continue this run with --resume {folder}")
    assert "Traceback" not in stderr and not out.exists()
    logged = (folder / artifacts.EVENTS).read_bytes().splitlines()
    assert [json.loads(line)["type"] for line in logged][:2] == ["run_started", "stage_started"]  # whole lines
    filler.unlink()
    code, again = _resume(tmp_path, str(folder))
    assert code == 0 and out.is_file()


def test_run_folder_already_full_before_request_json(tmp_path, bundle_dir, tiny_disk):
    disk = tiny_disk("256k")
    fill(disk)
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle_dir), "--style", "x",
            "--length", "3", "--out", str(tmp_path / "song.wav"), "--run-dir", str(disk)]
    done = subprocess.run(argv, capture_output=True, env=runner_env(tmp_path), timeout=120)
    events = parse_stdout(done.stdout)
    error = [e for e in events if e["type"] == "error"][0]
    assert done.returncode == 3 and error["stage"] == "preflight"
    assert "request.json" in error["message"] and "0.0 MiB free" in error["message"]
    assert error["remedy"].endswith("then start the run again")  # nothing to resume: no request.json
    assert b"Traceback" not in done.stderr


def test_a_full_cache_disk_only_costs_time(tmp_path, bundle_dir, tiny_disk):
    """The style and file-hash caches live under XDG_CACHE_HOME: when that disk is full the run still succeeds."""
    cache = tiny_disk("256k")
    fill(cache)
    env = dict(runner_env(tmp_path), XDG_CACHE_HOME=str(cache))
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle_dir), "--style", "x",
            "--length", "3", "--out", str(tmp_path / "song.wav"), "--run-dir", str(tmp_path / "runs")]
    done = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (tmp_path / "song.wav").is_file()


def test_no_room_for_the_run_folder_itself(tmp_path, bundle_dir, tiny_disk):
    disk = tiny_disk("1m,nr_inodes=2")  # the mount's root takes one inode; the folder `runs` the last
    (disk / "runs").mkdir()
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle_dir), "--style", "x", "--length", "3",
            "--out", str(tmp_path / "song.wav"), "--run-dir", str(disk / "runs")]
    done = subprocess.run(argv, capture_output=True, env=runner_env(tmp_path), timeout=120)
    error = [e for e in parse_stdout(done.stdout) if e["type"] == "error"][0]
    assert done.returncode == 3 and error["code"] == 3  # not "cannot create" as a bad request (exit 2)
    assert f"no space left on the disk of {disk / 'runs'} while writing the run folder" in error["message"]
