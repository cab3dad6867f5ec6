"""The image's CUDA flavour against this machine's driver (the `torch.cuda_match` rule), where the image
comes from (built here; pulled only from a registry the user names), and what `run` prints, against the real
private engine and registry (conftest.py)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(120)

OLD_DRIVER = {"status": "ok", "driver_version": "470.82.01", "cuda_driver_version": 11040,
              "devices": [{"name": "Tesla T4", "memory_total": 16 << 30, "memory_free": 15 << 30,
                           "compute_capability": [7, 5]}]}
NEW_DRIVER = {**OLD_DRIVER, "driver_version": "570.124.04", "cuda_driver_version": 12080}


def _snapshot(tmp_path, facts) -> str:
    path = tmp_path / f"nvml-{facts['driver_version']}.json"
    path.write_text(json.dumps(facts))
    return str(path)


def _labelled(eng, fake_context, flavour: str, cuda: str) -> str:
    tag = f"drd-fake:{flavour}"
    eng.client.images.build(path=str(fake_context), tag=tag, rm=True,
                            labels={"io.drdoctor.flavour": flavour, "io.drdoctor.cuda": cuda})
    return tag


@pytest.fixture
def dirs(tmp_path):
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    (models / "cfm_model.pt").write_bytes(b"weights")
    return models, out


def test_status_compares_the_images_cuda_with_the_driver(engine, fake_context, tmp_path, drdoctor):
    image = _labelled(engine, fake_context, "cu128", "12.8")
    old = drdoctor(["container", "status", "--image", image, "--nvml-snapshot", _snapshot(tmp_path, OLD_DRIVER)], engine)
    assert old.returncode == 1, old.stdout + old.stderr
    assert "FAIL     CUDA: the image is built for CUDA 12.8 (flavour cu128); the driver 470.82.01 supports CUDA 11.4" \
        in old.stdout
    # no flavour starts on R470: the exact driver to install, then the flavour to build
    assert "install driver 525.60.13 or newer" in old.stdout and "drdoctor container build --flavour cu126" in old.stdout
    facts = json.loads(drdoctor(["container", "status", "--image", image, "--json", "--nvml-snapshot",
                                 _snapshot(tmp_path, OLD_DRIVER)], engine).stdout)
    assert facts["image"]["labels"]["io.drdoctor.flavour"] == "cu128" and facts["flavour_match"]["status"] == "fail"
    new = drdoctor(["container", "status", "--image", image, "--nvml-snapshot", _snapshot(tmp_path, NEW_DRIVER)], engine)
    assert new.returncode == 0 and "ok       CUDA: the image is built for CUDA 12.8" in new.stdout, new.stdout
    missing = drdoctor(["container", "status", "--image", "drd-none:1", "--nvml-snapshot",
                        _snapshot(tmp_path, OLD_DRIVER)], engine)
    assert missing.returncode == 1 and "`drdoctor fix container.use` builds it" in missing.stdout, missing.stdout
    # R470 starts no flavour: the missing image's status already names the driver to install
    assert "FAIL     CUDA: the driver 470.82.01 supports CUDA 11.4: no flavour of the image starts on it" in missing.stdout
    assert "install driver 525.60.13 or newer" in missing.stdout
    fine = drdoctor(["container", "status", "--image", "drd-none:1", "--nvml-snapshot", _snapshot(tmp_path, NEW_DRIVER)],
                    engine)
    assert "CUDA:" not in fine.stdout, fine.stdout


def test_run_refuses_a_flavour_the_driver_cannot_start(gpu_engine, gpu_fake_image, fake_context, dirs, tmp_path,
                                                        drdoctor):
    """On an engine that accepts the GPU request: a cu128 image on an R470 driver is refused before a
    container is created (exit 3), naming both and the flavour to build; `--cpu` still runs."""
    image = _labelled(gpu_engine, fake_context, "cu128", "12.8")
    models, out = dirs
    args = ["container", "run", "generate", "--image", image, "--models", str(models), "--output", str(out),
            "--style", "calm", "--nvml-snapshot", _snapshot(tmp_path, OLD_DRIVER)]
    done = drdoctor(args, gpu_engine)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "CUDA 12.8" in done.stderr and "470.82.01" in done.stderr and "install driver 525.60.13" in done.stderr
    assert not (out / "runs" / "fake-run").exists()  # nothing ran
    assert drdoctor([*args, "--cpu"], gpu_engine).returncode == 0
    fits = drdoctor([*args[:-1], _snapshot(tmp_path, NEW_DRIVER)], gpu_engine)
    assert fits.returncode == 0, fits.stderr


def test_build_takes_the_flavour_this_driver_runs_and_tells_an_old_driver_what_to_install(engine, busybox_image,
                                                                                         tmp_path, drdoctor):
    """No --flavour: the newest flavour the local driver runs (R570 -> cu128); R470 runs none, so the build says
    which driver to install and builds the default one (it still runs --cpu). The busybox base stops the build at
    its first RUN (no bash): the flavour is read from the tag and the logs."""
    base = ["container", "build", "--build-arg", f"BASE_IMAGE={busybox_image}", "--json", "--nvml-snapshot"]
    new = drdoctor([*base, _snapshot(tmp_path, NEW_DRIVER)], engine)
    assert "drdoctor:cu128" in new.stdout and "note:" not in new.stderr, new.stdout + new.stderr
    old = drdoctor([*base, _snapshot(tmp_path, OLD_DRIVER)], engine)
    assert "drdoctor:cu126" in old.stdout, old.stdout
    assert "note: every flavour of the image needs a newer NVIDIA driver" in old.stderr
    assert "install driver 525.60.13 or newer" in old.stderr and "--cpu" in old.stderr
    retired = drdoctor(["container", "build", "--flavour", "cu118"], engine)
    assert retired.returncode == 2 and "the cu118 flavour is no longer built" in retired.stderr + retired.stdout


def test_pull_needs_an_image_the_user_names(engine, drdoctor):
    done = drdoctor(["container", "pull"], engine)
    assert done.returncode == 2
    assert "published in no registry" in done.stderr and "drdoctor container build" in done.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["missing from the registry", "registry unreachable"])
def test_a_base_image_that_cannot_be_pulled_is_named(engine, registry, where, drdoctor):
    """The real Dockerfile on a base the engine cannot pull: the message names that base image (an
    unreachable registry's own error names only the address), and what to do."""
    base = f"{registry}/no-such-base:1" if where.startswith("missing") else f"127.0.0.1:{_closed_port()}/base:1"
    done = drdoctor(["container", "build", "--tag", "drd-nobase:1", "--build-arg", f"BASE_IMAGE={base}"], engine)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"its base image {base} cannot be pulled" in done.stderr, done.stderr
    assert "docker save" in done.stderr and "BASE_IMAGE" in done.stderr


def test_the_terminal_view_prints_host_paths(engine, fake_image, dirs, drdoctor):
    models, out = dirs
    done = drdoctor(["container", "run", "generate", "--image", fake_image, "--models", str(models), "--output",
                     str(out), "--style", "calm", "--cpu"], engine)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}/song.wav" in done.stdout and "wrote /out/" not in done.stdout, done.stdout
    events = [json.loads(line) for line in drdoctor(
        ["container", "run", "generate", "--image", fake_image, "--models", str(models), "--output", str(out),
         "--style", "calm", "--cpu", "--json", "--host-paths"], engine).stdout.splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["output"] == f"{out}/song.wav"  # what the app reads


def test_the_fault_switch_is_not_advertised(drdoctor):
    shown = drdoctor(["container", "run", "generate", "--help"])
    assert shown.returncode == 0 and "--lyrics" in shown.stdout and "--fault" not in shown.stdout
