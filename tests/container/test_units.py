"""Pure parts of `drdoctor container`: endpoint choice, path translation, error wording, option parity."""

from __future__ import annotations

import argparse
import errno
import json
import subprocess
import sys

import pytest

from doctor.container import endpoint as ep
from doctor.container.problems import classify_connect_error
from doctor.container.request import RequestError, add_generate_arguments, translate


def test_endpoint_order_flag_env_context_default(tmp_path):
    assert ep.resolve("tcp://h:2376", {"DOCKER_HOST": "unix:///x"}).source == "--docker-host"
    env_ep = ep.resolve(None, {"DOCKER_HOST": "ssh://me@gpu-box"})
    assert env_ep.source == "DOCKER_HOST" and env_ep.from_env and not env_ep.is_local
    assert ep.resolve(None, {"HOME": str(tmp_path)}).url == ep.DEFAULT_HOST

    cfg = tmp_path / ".docker"
    meta = cfg / "contexts" / "meta" / "abc"
    meta.mkdir(parents=True)
    (cfg / "contexts" / "tls" / "abc" / "docker").mkdir(parents=True)
    (cfg / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    (meta / "meta.json").write_text(json.dumps({"Name": "remote", "Endpoints": {"docker": {"Host": "tcp://gpu:2376"}}}))
    ctx = ep.resolve(None, {"HOME": str(tmp_path)})
    assert ctx.url == "tcp://gpu:2376" and ctx.source == "context remote" and ctx.tls_dir
    assert ep.resolve(None, {"HOME": str(tmp_path), "DOCKER_CONTEXT": "default"}).url == ep.DEFAULT_HOST
    with pytest.raises(ep.EndpointError):
        ep.resolve(None, {"HOME": str(tmp_path), "DOCKER_CONTEXT": "missing"})


def test_wsl_without_a_socket_points_at_docker_desktop_integration():
    endpoint = ep.Endpoint(url="unix:///var/run/docker.sock", source="default")
    exc = ConnectionError(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    assert classify_connect_error(exc, endpoint, wsl=True).kind == "wsl_integration"
    assert "WSL Integration" in classify_connect_error(exc, endpoint, wsl=True).remedy
    assert classify_connect_error(exc, endpoint, wsl=False).kind == "not_running"
    denied = ConnectionError(PermissionError(errno.EACCES, "Permission denied"))
    assert classify_connect_error(denied, endpoint).kind == "permission"


def _ns(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_generate_arguments(p)
    return p.parse_args(list(argv))


def test_paths_are_rewritten_to_container_paths(tmp_path):
    models, out = tmp_path / "m", tmp_path / "o"
    models.mkdir()
    lyrics, clip, cfm = tmp_path / "a.lrc", tmp_path / "c.wav", tmp_path / "cfm.pt"
    for f in (lyrics, clip, cfm):
        f.write_text("x")
    req = translate(_ns("--lyrics", str(lyrics), "--ref-audio", str(clip), "--out", "x/y.wav", "--seed", "7",
                        "--no-chunked", "--model-file", f"cfm={cfm}", "--accel", "cfg-reuse"), str(models), str(out))
    a = req.args
    assert a[a.index("--accel") + 1] == "cfg-reuse"  # a runner option is passed on, not dropped
    assert a[a.index("--lyrics") + 1] == "/in/lyrics/a.lrc" and a[a.index("--ref-audio") + 1] == "/in/ref/c.wav"
    assert a[a.index("--out") + 1] == "/out/x/y.wav" and a[a.index("--run-dir") + 1] == "/out/runs"
    assert a[a.index("--model-file") + 1] == "cfm=/in/model-files/cfm/cfm.pt"
    assert "--no-chunked" in a and a[a.index("--seed") + 1] == "7"
    mounts = {m.target: (m.source, m.read_only) for m in req.mounts}
    assert mounts["/models"] == (str(models), True) and mounts["/out"] == (str(out), False)
    assert mounts["/in/lyrics/a.lrc"] == (str(lyrics), True) and out.is_dir()

    with pytest.raises(RequestError) as outside:
        translate(_ns("--out", "/etc/x.wav"), str(models), str(out))
    assert outside.value.code == 2
    with pytest.raises(RequestError) as missing:
        translate(_ns(), None, str(out))
    assert missing.value.code == 3
    with pytest.raises(RequestError):
        translate(_ns("--lyrics", str(tmp_path / "none.lrc")), str(models), str(out))


def test_edit_batch_and_style_reuse_inputs_are_mounted_read_only(tmp_path):
    models, out, earlier = tmp_path / "m", tmp_path / "o", tmp_path / "runs" / "r1"
    models.mkdir()
    earlier.mkdir(parents=True)
    song, vector = tmp_path / "song.wav", tmp_path / "style.npy"
    for f in (song, vector):
        f.write_text("x")
    req = translate(_ns("--edit", str(song), "--regenerate", "10:25", "--regenerate", "50:end", "--batch", "3",
                        "--style-embedding", str(vector)), str(models), str(out))
    a = req.args
    assert a[a.index("--edit") + 1] == "/in/song/song.wav"
    assert [a[i + 1] for i, x in enumerate(a) if x == "--regenerate"] == ["10:25", "50:end"]
    assert a[a.index("--batch") + 1] == "3" and a[a.index("--style-embedding") + 1] == "/in/style/style.npy"
    mounts = {m.target: (m.source, m.read_only) for m in req.mounts}
    assert mounts["/in/song/song.wav"] == (str(song), True) and mounts["/in/style/style.npy"] == (str(vector), True)

    reuse = translate(_ns("--continue", str(song), "--length", "180", "--style-from", str(earlier)), str(models), str(out))
    b = reuse.args
    assert b[b.index("--continue") + 1] == "/in/song/song.wav" and b[b.index("--style-from") + 1] == "/in/style-from"
    assert {m.target: m.read_only for m in reuse.mounts}["/in/style-from"] is True
    with pytest.raises(RequestError):
        translate(_ns("--edit", str(tmp_path / "missing.wav"), "--regenerate", "1:2"), str(models), str(out))


def test_container_commands_do_not_import_torch():
    code = ("import sys, doctor.commands.container as c, doctor.container.launch, doctor.container.status, "
            "doctor.container.images; c.build_parser(); assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
