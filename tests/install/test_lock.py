"""The lock script: a short input list -> exact versions and hashes (uv's resolver), or a clear refusal."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from conftest import REPO, clean_env, make_family, weight_bytes

from doctor.install.lock import HEADER, read_header

REAL_LOCK = REPO / "doctor" / "data" / "families" / "diffrhythm-1.2" / "cu130.txt"


def test_lock_pins_every_package_with_the_hash_of_its_file(tmp_path, upstream, hub, wheelhouse):
    family = make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\n", import_check=[], checkout_import=False,
                         torch=None, index_url=None, find_links=[str(wheelhouse)], files=weight_bytes(tmp_path, False))
    lock = family.path.parent / "test-env" / "cpu.txt"
    text = lock.read_text(encoding="utf-8")
    assert "ddtiny-alpha==1.0" in text and "ddtiny-beta==1.0" in text  # the dependency is locked too
    for wheel in wheelhouse.iterdir():
        assert f"--hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" in text
    header = read_header(lock)
    assert header["variant"] == "cpu" and header["inputs_sha256"] == hashlib.sha256(b"ddtiny-beta\n").hexdigest()
    assert "do not edit" in text.splitlines()[0]


def test_unreachable_index_writes_no_lock(tmp_path, upstream, hub, wheelhouse):
    family = make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\n", import_check=[], checkout_import=False,
                         torch=None, index_url=None, find_links=[str(wheelhouse)], files=weight_bytes(tmp_path, False))
    lock = family.path.parent / "test-env" / "cpu.txt"
    lock.unlink()
    done = subprocess.run([sys.executable, "-m", "doctor.install.lock", str(family.path), "--index-url",
                           "http://127.0.0.1:9/simple"], capture_output=True, text=True, env=clean_env(tmp_path, None),
                          cwd=REPO, timeout=120)
    assert done.returncode == 3
    assert "cpu: not generated: http://127.0.0.1:9/simple cannot be reached" in done.stdout
    assert not lock.exists()


def test_committed_real_lock_came_from_the_script_and_its_inputs():
    header = read_header(REAL_LOCK)
    inputs = (REAL_LOCK.parent / "requirements.in").read_bytes()
    assert header["inputs_sha256"] == hashlib.sha256(inputs).hexdigest(), "requirements.in changed: regenerate the locks"
    text = REAL_LOCK.read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith(HEADER) and json.loads(text.splitlines()[1][len(HEADER):]) == header
    pins = {line.split("==")[0]: line.split("==")[1].split()[0] for line in text.splitlines() if "==" in line and line[:1].isalnum()}
    assert pins["torch"] == "2.11.0" and pins["torchaudio"] == "2.11.0"  # muq needs torchaudio: its last release
    assert pins["transformers"].startswith("4.") and tuple(map(int, pins["transformers"].split(".")[:2])) < (4, 54)
    assert pins["huggingface-hub"].startswith("0.")
    for needed in ("muq", "phonemizer", "x-transformers", "torchdiffeq", "jieba", "pypinyin", "cn2an", "onnxruntime",
                   "py3langid", "librosa", "soundfile", "einops"):
        assert needed in pins, needed
