"""The lock script: a short input list -> exact versions and hashes (uv's resolver), or a clear refusal."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

from conftest import REPO, build_wheel, clean_env, make_family, weight_bytes

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


def test_lock_header_weighs_the_cuda_libraries_it_pins(tmp_path, upstream, hub, wheelhouse):
    folder = tmp_path / "wheels"
    folder.mkdir()
    for wheel in wheelhouse.iterdir():
        shutil.copy(wheel, folder)
    cuda_lib = build_wheel(folder, "nvidia-ddtiny-cu12", "12.6.77", "BLOB = " + repr("x" * 5000) + "\n")
    family = make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\nnvidia-ddtiny-cu12\n", import_check=[],
                         checkout_import=False, torch=None, index_url=None, find_links=[str(folder)],
                         files=weight_bytes(tmp_path, False))
    header = read_header(family.path.parent / "test-env" / "cpu.txt")
    # only the CUDA library is weighed (what a CPU machine downloads for nothing), by the file the hash names
    assert header["wheel_bytes"] == {"torch": 0, "cuda_libraries": cuda_lib.stat().st_size, "unmeasured": []}


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


def _pins(lock) -> dict[str, str]:
    text = lock.read_text(encoding="utf-8")
    return {line.split("==")[0]: line.split("==")[1].split()[0] for line in text.splitlines()
            if "==" in line and line[:1].isalnum()}


def _cuda_runtime(pins: dict[str, str]) -> tuple[int, int]:
    """The CUDA of the runtime wheel torch's metadata requires (nvidia-cuda-runtime-cu12 / nvidia-cuda-runtime)."""
    name = next(n for n in pins if n in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime", "nvidia-cuda-runtime-cu11"))
    major, minor = pins[name].split(".")[:2]
    return int(major), int(minor)


def test_every_committed_lock_came_from_the_script_its_inputs_and_its_variants_torch():
    from doctor import wheels
    from doctor.install.lock import environment_spec
    from runner.family import family

    spec = environment_spec(family("diffrhythm-1.2"))
    inputs = (REAL_LOCK.parent / "requirements.in").read_bytes()
    assert b"torchaudio" not in inputs  # the variant adds its own pair
    locked = {name: v for name, v in spec.variants.items() if v.lock.is_file()}
    assert {"cu126", "cu128", "cu130"} <= set(locked)  # every CUDA variant PyPI serves (cpu needs its own index)
    for name, v in locked.items():
        header = read_header(v.lock)
        assert header["inputs_sha256"] == hashlib.sha256(inputs).hexdigest(), f"{name}: regenerate the locks"
        assert (header["variant"], header["torch"], header["torchaudio"]) == (name, v.torch, v.torchaudio)
        text = v.lock.read_text(encoding="utf-8")
        assert text.splitlines()[1].startswith(HEADER) and json.loads(text.splitlines()[1][len(HEADER):]) == header
        pins = _pins(v.lock)
        weighed = header["wheel_bytes"]
        assert not weighed["unmeasured"] and weighed["torch"] > 100e6 and weighed["cuda_libraries"] > 1e9, weighed
        assert pins["torch"] == v.torch and pins["torchaudio"] == v.torchaudio == wheels.expected_torchaudio(v.torch)
        if v.from_pypi:  # PyPI serves one CUDA build per release: the one this variant names (measured in the lock)
            assert _cuda_runtime(pins) == wheels.variant_cuda(name), (name, pins["torch"])
            assert wheels.pypi_variant(v.torch) == name  # the wheel table says the same
        assert wheels.arch_set(v.torch, name) is not None, f"torch_cuda.json has no {v.torch} {name} row"
        assert (4, 43) <= tuple(map(int, pins["transformers"].split(".")[:2])) < (4, 54)  # the DiT's range
        assert pins["huggingface-hub"].startswith("0.")
        if "torchvision" in pins:  # pulled in by x-clip (muq): it must be the one built for this torch
            minor = wheels.version_tuple(v.torch)[1]
            assert pins["torchvision"].startswith(f"0.{minor + 15}."), (name, pins["torchvision"])
        for needed in ("muq", "phonemizer", "x-transformers", "torchdiffeq", "jieba", "pypinyin", "cn2an",
                       "onnxruntime", "py3langid", "librosa", "soundfile", "einops"):
            assert needed in pins, (name, needed)
