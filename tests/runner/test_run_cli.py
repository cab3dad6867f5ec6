"""`python -m runner` for real, in a subprocess, on the tiny bundle: events, stages, run folder, failures."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import wave

import pytest

from runner.events import STAGES, problems

from _runner_helpers import SELFTEST_END_TO_END, parse_stdout, runner_env

LRC = "[00:00.20] first line here.\n[00:01.00] second, line\n[ti: title]\n[verse]\n[00:09.00] too late\n"


def assert_stream(result):
    """One JSON object per line, all valid events, nothing else on stdout, sane order."""
    lines = result.stdout.decode("utf-8").splitlines()
    assert lines and all(line.startswith("{") and line.endswith("}") for line in lines)
    for event in result.events:
        assert problems(event) == [], event
    types = [e["type"] for e in result.events]
    # a request that cannot even be parsed has no run_started: error, then run_finished
    assert types[0] in ("run_started", "error") and types[-1] == "run_finished"
    assert types.count("run_finished") == 1 and types.count("error") <= 1
    started = [e["stage"] for e in result.events if e["type"] == "stage_started"]
    assert started == list(STAGES[: len(started)])
    finished = result.of("run_finished")[0]
    assert finished["exit_code"] == result.code and finished["ok"] == (result.code == 0)


def test_clean_run(run_runner, tmp_path):
    lrc = tmp_path / "song.lrc"
    lrc.write_text(LRC, encoding="utf-8")
    r = run_runner("--lyrics", str(lrc), "--length", "5")
    assert r.code == 0, r.stderr
    assert_stream(r)
    assert [e["stage"] for e in r.of("stage_finished")] == list(STAGES)
    progress = [e["done"] for e in r.of("stage_progress") if e["stage"] == "sample"]
    assert progress == list(range(1, 32))
    # warnings name the LRC line numbers
    warnings = [e["message"] for e in r.of("warning") if e["stage"] == "lyrics"]
    assert any("line 4" in w for w in warnings) and any("line 5" in w for w in warnings)
    # the song
    with wave.open(str(r.out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 44100)
        assert w.getnframes() == int(5 * 44100 / 2048) * 2048
    kinds = {e["kind"]: e for e in r.of("artifact")}
    assert set(kinds) == {"latents", "audio_raw", "wav", "manifest", "style"}
    folder = r.folder
    for name in ("request.json", "events.ndjson", "manifest.json", "latents.pt", "audio_raw.pt", "runner.log"):
        assert (folder / name).is_file(), name
    # the run folder's event log is the stdout stream
    assert parse_stdout((folder / "events.ndjson").read_bytes()) == r.events
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["ok"] and manifest["exit_code"] == 0
    assert {f["role"] for f in manifest["files"]} >= {"cfm", "vae"}
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in manifest["files"])
    assert set(manifest["timings"]) == set(STAGES)
    assert {c["name"] for c in manifest["validation"]} >= {"peak", "spectral_flatness", "silent_share"}
    assert manifest["output"]["path"] == str(r.out)
    assert manifest["dtype"] in ("float32", "bfloat16")
    run_started = r.of("run_started")[0]
    assert set(run_started["versions"]) == {"python", "torch", "drdoctor"}
    assert run_started["request"]["seed"] == 11


def test_seed_chosen_and_recorded_when_not_given(tmp_path, bundle_dir):
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle_dir), "--style", "x", "--length", "2",
            "--out", str(tmp_path / "a.wav"), "--run-dir", str(tmp_path / "runs")]
    seeds = []
    for _ in range(2):
        proc = subprocess.run(argv, capture_output=True, env=runner_env(tmp_path), timeout=120)
        assert proc.returncode == 0
        seeds.append(parse_stdout(proc.stdout)[0]["request"]["seed"])
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]


def test_same_seed_same_song(run_runner, tmp_path):
    a = run_runner("--dtype", "float32", out=tmp_path / "a.wav")
    b = run_runner("--dtype", "float32", out=tmp_path / "b.wav")
    assert a.code == b.code == 0
    assert a.out.read_bytes() == b.out.read_bytes()


def _selftest_failures() -> list:
    """The selftest's declared fault cases (one source: doctor/commands/selftest.py) not run end to end there."""
    from doctor.commands.selftest import CASES

    return [pytest.param(["--style", "self-test pop", "--seed", "7", *case.args], case.code, case.stage, id=case.name)
            for case in CASES if case.name not in SELFTEST_END_TO_END and not case.cancel_then_resume]


@pytest.mark.parametrize(
    "args, code, stage",
    _selftest_failures() + [
        pytest.param(["--length", "60"], 2, "preflight", id="length_60"),
        pytest.param(["--device", "cuda"], 3, "preflight", id="no_cuda"),
    ],
)
def test_failures(run_runner, tmp_path, args, code, stage):
    from doctor.commands.selftest import BAD_LRC, GOOD_LRC

    files = {"bad_lrc": tmp_path / "bad.lrc", "good_lrc": tmp_path / "good.lrc"}
    files["bad_lrc"].write_text(BAD_LRC, encoding="utf-8")
    files["good_lrc"].write_text(GOOD_LRC, encoding="utf-8")
    r = run_runner(*(a.format(**files) for a in args))
    assert r.code == code, r.stderr
    assert_stream(r)
    assert r.error["stage"] == stage and r.error["code"] == code and r.error["remedy"]
    assert not r.out.exists()
    assert not [p for p in r.out.parent.iterdir() if p.name.startswith(f".{r.out.name}")]
    manifest = json.loads((r.folder / "manifest.json").read_text())
    assert manifest["exit_code"] == code and manifest["output"] is None


def test_nan_names_the_step(run_runner):
    r = run_runner("--fault", "nan_at:4")
    assert "step 4 of 31" in r.error["message"]
    assert [e["done"] for e in r.of("stage_progress") if e["stage"] == "sample"] == [1, 2, 3]
    assert not (r.folder / "latents.pt").exists()


def test_unexpected_error_traceback_in_log_not_stdout(run_runner):
    r = run_runner("--fault", "crash")
    assert "Traceback" in (r.folder / "runner.log").read_text()
    assert b"Traceback" not in r.stdout


def test_oom_once_warns_and_succeeds(run_runner):
    r = run_runner("--fault", "oom_decode", "--length", "11")
    assert r.code == 0
    assert any("retrying with 64-frame" in e["message"] for e in r.of("warning") if e["stage"] == "decode")


def test_kill_during_write_leaves_no_output(run_runner):
    r = run_runner("--fault", "kill_in_write", "--length", "11")
    assert r.code == -signal.SIGKILL
    assert not r.out.exists()
    assert [e["type"] for e in r.events][-1] == "stage_started"  # it died inside write


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--steps", "x"], "--steps"),
        (["--bogus"], "unrecognized"),
        (["--style", "a", "--ref-audio", "b.wav"], "not allowed"),
        (["--dtype", "float8"], "--dtype"),
    ],
)
def test_bad_arguments_exit_2_with_error_event(run_runner, args, fragment):
    r = run_runner(*args)
    assert r.code == 2
    assert_stream(r)
    assert fragment in r.error["message"] and r.error["code"] == 2
    assert b"usage" not in r.stdout


def test_no_style_and_no_model(run_runner, tmp_path):
    r = run_runner("--style", "", "--length", "3")
    assert r.code == 2 and "style" in r.error["message"]
    r = run_runner("--style", "x", bundle=False)
    assert r.code == 2 and "--diffrhythm" in r.error["message"]


def test_lyrics_problems(run_runner, tmp_path):
    missing = run_runner("--lyrics", str(tmp_path / "nope.lrc"))
    assert missing.code == 2 and missing.error["stage"] == "preflight"
    empty = tmp_path / "empty.lrc"
    empty.write_text("[verse]\n[ar: x]\n")  # no time stamp and no words (words alone are timed: untimed lyrics)
    r = run_runner("--lyrics", str(empty))  # judged before the model loads (runner/request_files.py)
    assert r.code == 2 and r.error["stage"] == "preflight" and "no timed line" in r.error["message"]
    latin1 = tmp_path / "latin1.lrc"
    latin1.write_bytes("[00:01.00] caf\xe9\n".encode("latin-1"))
    r = run_runner("--lyrics", str(latin1))
    assert r.code == 2 and "byte 0xe9 at offset 14 (line 1, column 15)" in r.error["message"]
    late = tmp_path / "late.lrc"
    late.write_text("[00:20.00] late line one\n[00:25.50] late line two\n")
    r = run_runner("--lyrics", str(late), "--length", "3")  # not an instrumental with exit 0
    assert r.code == 2 and r.error["stage"] == "lyrics" and not r.out.exists()
    assert r.error["message"] == (f"lyrics file {late}: every line starts at or after the song's end (3 s), so nothing "
                                  "would be sung: line 1 at 20 s, line 2 at 25.5 s")


def test_unwritable_output_folder(run_runner, tmp_path):
    r = run_runner(out=tmp_path / "no" / "such" / "song.wav")
    assert r.code == 2 and "does not exist" in r.error["message"]


def test_float16_on_cpu_refused_with_warning(run_runner):
    r = run_runner("--device", "cpu", "--dtype", "float16")
    assert r.code == 0
    assert r.of("run_started")[0]["dtype"] != "float16"
    assert any("float16" in e["message"] and "slower" in e["message"] for e in r.of("warning"))


def test_offline_environment_set(tmp_path, bundle_dir):
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set before anything loads."""
    code = ("import os, runner.app as a; a.offline_environment(); "
            "print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'])")
    env = runner_env(tmp_path)
    env.pop("HF_HUB_OFFLINE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["1", "1"]


def test_stray_prints_do_not_reach_stdout(tmp_path, bundle_dir):
    """A library printing to stdout lands on stderr: stdout stays events only."""
    code = (
        "import sys, runner.app as a, runner.pipeline as p\n"
        "orig = p.load\n"
        "def noisy(*args):\n    print('hello from a library'); return orig(*args)\n"
        "p.load = noisy\n"
        f"sys.exit(a.main(['--bundle', {str(bundle_dir)!r}, '--style', 'x', '--length', '2', "
        f"'--out', {str(tmp_path / 'a.wav')!r}, '--run-dir', {str(tmp_path / 'runs')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=runner_env(tmp_path), timeout=120)
    assert proc.returncode == 0
    assert b"hello from a library" not in proc.stdout and b"hello from a library" in proc.stderr
    assert all(e["type"] for e in parse_stdout(proc.stdout))


def _start(tmp_path, bundle_dir, *extra):
    argv = [sys.executable, "-m", "runner", "--bundle", str(bundle_dir), "--style", "x", "--seed", "3",
            "--out", str(tmp_path / "song.wav"), "--run-dir", str(tmp_path / "runs"), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=runner_env(tmp_path))


def test_sigint_mid_sample_then_resume(tmp_path, bundle_dir):
    proc = _start(tmp_path, bundle_dir, "--length", "3", "--fault", "slow:0.1")
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "stage_progress" and events[-1]["stage"] == "sample" and events[-1]["done"] == 2:
            proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    error = [e for e in events if e["type"] == "error"][0]
    assert error["stage"] == "sample" and error["code"] == 130
    assert error["remedy"].endswith(f"continue this run with --resume {events[0]['folder']}")  # the real folder
    assert max(e["done"] for e in events if e["type"] == "stage_progress") <= 4  # stopped at a step boundary
    assert not (tmp_path / "song.wav").exists()
    folder = events[0]["folder"]
    resumed = subprocess.run([sys.executable, "-m", "runner", "--resume", folder], capture_output=True,
                             env=runner_env(tmp_path), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "song.wav").is_file()
    again = parse_stdout(resumed.stdout)
    assert again[0]["run"] == events[0]["run"] and again[0]["request"]["seed"] == 3
    all_events = parse_stdout((tmp_path / "runs" / events[0]["run"] / "events.ndjson").read_bytes())
    assert [e["type"] for e in all_events].count("run_started") == 2


def test_sigterm_is_cancel_too(tmp_path, bundle_dir):
    proc = _start(tmp_path, bundle_dir, "--length", "3", "--fault", "slow:0.1")
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "stage_progress":
            proc.send_signal(signal.SIGTERM)
            break
    proc.stdout.read()
    assert proc.wait(timeout=60) == 130


def test_timeout_exit_6_then_resume(run_runner, tmp_path):
    r = run_runner("--fault", "slow:0.2", "--timeout", "1.5")
    assert r.code == 6 and r.error["code"] == 6
    assert r.error["message"] == "ran past --timeout 1.5 s"
    assert r.error["remedy"].endswith(f"continue this run with --resume {r.folder}")
    assert not r.out.exists()
    resumed = run_runner("--resume", str(r.folder), defaults=False)
    assert resumed.code == 0


def test_resume_from_latents_skips_dit_stages(run_runner, tmp_path):
    first = run_runner("--fault", "vae_zeros")
    assert first.code == 4 and (first.folder / "latents.pt").is_file()
    r = run_runner("--resume", str(first.folder), defaults=False)
    assert r.code == 0, r.stderr
    assert_stream(r)
    skipped = {e["stage"]: e.get("reason") for e in r.of("stage_finished") if e.get("skipped")}
    assert set(skipped) == {"lyrics", "style", "sample"}
    assert not [e for e in r.of("stage_progress") if e["stage"] == "sample"]
    assert not any(f["role"] == "cfm" for f in json.loads((r.folder / "manifest.json").read_text())["files"])
    assert r.of("run_finished")[0]["output"] == str(tmp_path / "song.wav")


def test_resume_from_raw_audio_skips_decode(run_runner, tmp_path):
    first = run_runner("--fault", "crash")
    assert first.code == 1 and (first.folder / "audio_raw.pt").is_file()
    r = run_runner("--resume", str(first.folder), "--out", str(tmp_path / "other.wav"), defaults=False)
    assert r.code == 0
    skipped = [e["stage"] for e in r.of("stage_finished") if e.get("skipped")]
    assert skipped == ["load", "lyrics", "style", "sample", "decode"]
    assert (tmp_path / "other.wav").is_file()


def test_resume_refuses_changed_request(run_runner, tmp_path):
    first = run_runner("--fault", "crash")
    r = run_runner("--resume", str(first.folder), "--seed", "5", defaults=False)
    assert r.code == 2 and "--seed" in r.error["message"]
    r = run_runner("--resume", str(tmp_path / "nowhere"), defaults=False)
    assert r.code == 2


def test_help_goes_to_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "runner", "--help"], capture_output=True, env=runner_env(tmp_path),
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == b"" and b"--lyrics" in proc.stderr


def _clip(path, seconds, rate=44100):
    import math
    import struct

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 0.05))) for i in range(int(seconds * rate))))


def test_reference_clip_style(run_runner, tmp_path):
    good, short = tmp_path / "good.wav", tmp_path / "short.wav"
    _clip(good, 12)
    _clip(short, 4)
    r = run_runner("--ref-audio", str(good))
    assert r.code == 0, r.stderr
    r = run_runner("--ref-audio", str(short))
    assert r.code == 2 and r.error["stage"] == "style"


def test_style_cache_second_run(run_runner):
    first, second = run_runner(), run_runner()
    assert "computed" in [e for e in first.of("check") if e["name"] == "style_vector"][0]["message"]
    assert "cache" in [e for e in second.of("check") if e["name"] == "style_vector"][0]["message"]


def test_whole_decode_option(run_runner):
    r = run_runner("--no-chunked", "--length", "11")
    assert r.code == 0
    started = [e for e in r.of("stage_started") if e["stage"] == "decode"][0]
    assert started["total"] == 1
    chunked = run_runner("--length", "11")
    assert [e for e in chunked.of("stage_started") if e["stage"] == "decode"][0]["total"] == 3
