"""Loading a DiffRhythm checkout: a fixture checkout of our own in a temporary folder (see _checkout_fixture)."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from weight_fixtures import style_models
from _checkout_fixture import CONFIG, build_checkout, checkpoint_bytes, hf_put, vae_bytes
from runner.checkout import load_diffrhythm
from runner.checkout_import import TORCHAUDIO_PLACEHOLDER, in_checkout
from runner.errors import EnvironmentProblem
from runner.model_paths import ModelPaths


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cwd, path = os.getcwd(), list(sys.path)
    yield
    assert os.getcwd() == cwd, "the loader left the current directory changed"
    assert sys.path == path, "the loader left sys.path changed"
    for name in [k for k in sys.modules if k == "model" or k.startswith(("model.", "g2p"))]:
        del sys.modules[name]


def load(root, models=None, length=95, warnings=None):
    sink = warnings if warnings is not None else []
    return load_diffrhythm(root, models, length, "cpu", torch.float32, sink.append)


def test_loads_the_checkout_without_running_model_init(tmp_path):
    root = tmp_path / "DiffRhythm"
    info = build_checkout(root)
    warnings: list[str] = []
    comps = load(root, warnings=warnings)

    assert comps.max_frames == 2048
    # the weights are the checkpoint's
    for key, value in comps.transformer.state_dict().items():
        assert torch.equal(value, info["state"][f"transformer.{key}"]), key
    # the network runs with upstream's forward signature
    frames = 12
    out = comps.transformer(
        x=torch.randn(2, frames, 64), cond=torch.zeros(2, frames, 64), text=torch.zeros(2, frames, dtype=torch.long),
        time=torch.tensor(0.5), drop_audio_cond=False, drop_text=False, drop_prompt=False,
        style_prompt=torch.randn(2, 512), start_time=torch.zeros(2), duration=torch.ones(2),
    )
    assert out.shape == (2, frames, 64)
    audio = comps.vae.decode_export(torch.randn(1, 64, 3))
    assert audio.shape == (1, 2, 3 * 2048)
    assert comps.negative_style.shape == (1, 512) and comps.negative_style.dtype == torch.float32
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_torchaudio_placeholder_is_used_and_reported(tmp_path):
    try:
        import torchaudio  # noqa: F401
    except Exception:
        pass
    else:
        pytest.skip("torchaudio imports here; the placeholder is only for environments without it")
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    warnings: list[str] = []
    load(root, warnings=warnings)
    assert any("torchaudio cannot be imported" in w and "placeholder" in w for w in warnings)
    assert "torchaudio" not in sys.modules  # removed again after the checkout's import
    modules = sys.modules["model.modules"]
    assert getattr(modules.torchaudio, TORCHAUDIO_PLACEHOLDER)
    with pytest.raises(RuntimeError, match="torchaudio.transforms was used"):
        modules.TrainingMel()


def test_every_file_is_fingerprinted(tmp_path):
    root = tmp_path / "DiffRhythm"
    info = build_checkout(root)
    comps = load(root)
    roles = {f["role"]: f for f in comps.files}
    assert set(roles) >= {"config", "cfm", "vae", "negative_style"}
    assert roles["cfm"]["sha256"] == Path(os.path.realpath(info["cfm"])).name
    assert roles["cfm"]["path"] == str(info["cfm"])
    assert roles["vae"]["bytes"] == info["vae"].stat().st_size
    vocal = root / "infer" / "example" / "vocal.npy"
    assert roles["negative_style"]["sha256"] == hashlib.sha256(vocal.read_bytes()).hexdigest()


def test_g2p_imports_with_the_checkout_as_current_directory(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    comps = load(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = os.getcwd()
    os.chdir(elsewhere)
    try:
        ids = comps.tokenize("Ab c.")
        assert os.getcwd() == str(elsewhere)
    finally:
        os.chdir(before)
    # vocab: _ 0, . 1, a 3, b 4, c 5
    assert ids == [3, 4, 0, 5, 1]
    assert str(root) not in sys.path
    # the g2p really needs the current directory: importing it from elsewhere fails
    for name in [k for k in sys.modules if k.startswith("g2p")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        with pytest.raises(FileNotFoundError):
            __import__("g2p.g2p_generation")
    finally:
        sys.path.remove(str(root))


def test_partial_copy_g2p_fails_only_when_lyrics_need_it(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root, g2p_large_files=False)
    comps = load(root)  # an instrumental still loads
    with pytest.raises(EnvironmentProblem) as info:
        comps.tokenize("hello")
    assert "chinese_lexicon.txt is empty" in info.value.message
    assert "poly_bert_model.onnx is empty" in info.value.message
    assert "lfs" not in info.value.remedy  # upstream has no git-lfs
    assert f"{root} is not a git clone" in info.value.remedy
    assert "git clone https://github.com/ASLP-lab/DiffRhythm" in info.value.remedy


def _git(*args: str) -> None:
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env = dict(os.environ, **who)
    subprocess.run(["git", *args], check=True, capture_output=True, env=env, timeout=60)


def test_g2p_remedy_run_as_given_restores_the_files_in_a_git_clone(tmp_path):
    """Upstream's large g2p files are ordinary git blobs (no .gitattributes): the remedy is a git command
    that really brings them back; `git lfs pull` would do nothing."""
    root = tmp_path / "Diff Rhythm"  # a space: the command must quote the path
    build_checkout(root)
    _git("-C", str(root), "init", "-q")
    _git("-C", str(root), "add", "-A")
    _git("-C", str(root), "commit", "-qm", "checkout")
    lexicon = root / "g2p" / "sources" / "chinese_lexicon.txt"
    original = lexicon.read_bytes()
    lexicon.write_bytes(b"")  # what a copy without its large files holds
    (root / "g2p" / "sources" / "g2p_chinese_model" / "poly_bert_model.onnx").unlink()
    with pytest.raises(EnvironmentProblem) as info:
        load(root).tokenize("hello")
    remedy = info.value.remedy
    assert "lfs" not in remedy.replace("not git-lfs", "")
    command = shlex.split(remedy.split("`")[1])
    assert command[:3] == ["git", "-C", str(root)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    assert lexicon.read_bytes() == original
    assert load(root).tokenize("Ab c.")  # the g2p imports again


def test_g2p_missing_package_names_it(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    g2p = root / "g2p" / "g2p_generation.py"
    g2p.write_text("import phonemizer_not_installed_here\n" + g2p.read_text())
    comps = load(root)
    with pytest.raises(EnvironmentProblem) as info:
        comps.tokenize("hello")
    assert "phonemizer_not_installed_here" in info.value.message
    assert "pip install" in info.value.remedy


def test_g2p_espeak_failure_gets_the_espeak_remedy(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    g2p = root / "g2p" / "g2p_generation.py"
    g2p.write_text(g2p.read_text() + '\nraise RuntimeError("espeak not installed on your system")\n')
    comps = load(root)
    with pytest.raises(EnvironmentProblem) as info:
        comps.tokenize("hello")
    assert "espeak" in info.value.message and "apt-get install espeak-ng" in info.value.remedy


def test_g2p_missing_data_file_is_named(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    (root / "g2p" / "g2p" / "vocab.json").unlink()
    comps = load(root)
    with pytest.raises(EnvironmentProblem) as info:
        comps.tokenize("hello")
    assert "vocab.json" in info.value.message


def test_model_code_missing_dependency_is_an_environment_problem(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    dit = root / "model" / "dit.py"
    dit.write_text("import x_transformers_absent_pkg\n" + dit.read_text())
    with pytest.raises(EnvironmentProblem) as info:
        load(root)
    assert "x_transformers_absent_pkg" in info.value.message and "pip install" in info.value.remedy


def test_not_a_checkout(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "pretrained").mkdir()
    with pytest.raises(EnvironmentProblem):
        load(tmp_path / "empty", models=None)
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        load(tmp_path / "nowhere")


def test_lfs_pointer_in_the_cache_is_refused(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root, weights=False)
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 4419372338\n"
    hf_put(root / "pretrained", "ASLP-lab/DiffRhythm-1_2", "cfm_model.pt", pointer)
    hf_put(root / "pretrained", "ASLP-lab/DiffRhythm-vae", "vae_model.pt", vae_bytes(tmp_path))
    with pytest.raises(EnvironmentProblem, match="git-lfs pointer"):
        load(root)


def test_missing_weights_name_the_download(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root, weights=False)
    with pytest.raises(EnvironmentProblem) as info:
        load(root)
    assert "ASLP-lab/DiffRhythm-1_2" in info.value.remedy


def test_explicit_models_folder_flat_layout(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root, weights=False)
    models = tmp_path / "models"
    models.mkdir()
    data, state = checkpoint_bytes(tmp_path, 2048, seed=5, ema=True)
    (models / "cfm_model.pt").write_bytes(data)
    (models / "vae_model.pt").write_bytes(vae_bytes(tmp_path))
    comps = load(root, models=str(models))
    for key, value in comps.transformer.state_dict().items():
        assert torch.equal(value, state[f"transformer.{key}"]), key
    assert {f["path"] for f in comps.files} >= {str(models / "cfm_model.pt"), str(models / "vae_model.pt")}


def test_explicit_paths_win(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    data, state = checkpoint_bytes(tmp_path, 2048, seed=9)
    other = tmp_path / "mine.pt"
    other.write_bytes(data)
    comps = load(root, models={"cfm": str(other)})
    key = next(iter(comps.transformer.state_dict()))
    assert torch.equal(comps.transformer.state_dict()[key], state[f"transformer.{key}"])
    comps2 = load(root, models=ModelPaths(cfm=other))
    assert any(f["path"] == str(other) for f in comps2.files)


def test_full_model_needs_the_full_checkpoint(tmp_path):
    root = tmp_path / "DiffRhythm"
    info = build_checkout(root, full=True)
    comps = load(root, length=120)
    assert comps.max_frames == 6144
    assert comps.transformer.duration_time_embed is not None
    for key, value in comps.transformer.state_dict().items():
        assert torch.equal(value, info["full_state"][f"transformer.{key}"]), key

    # a base checkpoint given for a full-length song is refused, not run with a random duration embedding
    with pytest.raises(EnvironmentProblem, match="base \\(95 s\\) checkpoint"):
        load(root, models={"cfm_full": str(info["cfm"])}, length=120)


def test_dtype_cast(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    comps = load_diffrhythm(root, None, 95, "cpu", torch.bfloat16, lambda _: None)
    assert {p.dtype for p in comps.transformer.parameters()} == {torch.bfloat16}


def test_style_encoder_is_lazy_and_explains_what_is_missing(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    comps = load(root)  # no MuQ anywhere: loading still works
    assert comps.style_encoder_id == "MuQ-MuLan-large@unavailable"
    with pytest.raises(EnvironmentProblem, match="no MuQ-MuLan"):
        comps.style_encoder_factory()

    style_models(root / "pretrained", revision="muqrev1")  # MuQ-MuLan, its audio and its text model
    comps = load(root)
    assert comps.style_encoder_id == "MuQ-MuLan-large@muqrev1"
    try:
        import muq  # noqa: F401
    except Exception:
        with pytest.raises(EnvironmentProblem) as info:
            comps.style_encoder_factory()
        assert "muq" in info.value.message and info.value.remedy == "pip install muq"


def test_muq_without_torchaudio_is_explained(tmp_path):
    """The real muq imports torchaudio at import time; here a stand-in package on sys.path does the same."""
    try:
        import torchaudio  # noqa: F401
    except Exception:
        pass
    else:
        pytest.skip("torchaudio imports here")
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    style_models(root / "pretrained", revision="r")
    site = tmp_path / "site"
    (site / "muq").mkdir(parents=True)
    (site / "muq" / "__init__.py").write_text("from torchaudio.transforms import Spectrogram\n")
    comps = load(root)
    sys.path.insert(0, str(site))
    try:
        with pytest.raises(EnvironmentProblem) as info:
            comps.style_encoder_factory()
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("muq", None)
    assert "needs torchaudio" in info.value.message and "torch 2.11" in info.value.remedy


def test_in_checkout_restores_on_error(tmp_path):
    cwd = os.getcwd()
    with pytest.raises(ValueError):
        with in_checkout(tmp_path):
            assert os.getcwd() == str(tmp_path)
            raise ValueError
    assert os.getcwd() == cwd and str(tmp_path) not in sys.path


def test_config_is_read(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    comps = load(root)
    assert comps.transformer.dim == CONFIG["dim"]
    assert len(comps.transformer.blocks) == CONFIG["depth"]


def test_parts_vae_only_for_a_resumed_run(tmp_path):
    root = tmp_path / "DiffRhythm"
    build_checkout(root, weights=False)
    models = tmp_path / "models"
    models.mkdir()
    (models / "vae_model.pt").write_bytes(vae_bytes(tmp_path))  # no checkpoint anywhere: not needed
    comps = load_diffrhythm(root, models, 95, "cpu", torch.float32, lambda _m: None, parts=("vae",))
    assert isinstance(comps.transformer, torch.nn.Identity)
    assert "model" not in sys.modules  # the checkout's model code was not even imported
    assert [f["role"] for f in comps.files] == ["vae"]
    assert comps.style_encoder_factory is None and comps.tokenize is None


def test_transformers_too_new_is_refused(tmp_path, monkeypatch):
    import types

    root = tmp_path / "DiffRhythm"
    build_checkout(root)
    fake = types.ModuleType("transformers")
    fake.__version__ = "4.57.1"
    monkeypatch.setitem(sys.modules, "transformers", fake)  # what the checkout's import would have loaded
    with pytest.raises(EnvironmentProblem) as info:
        load(root)
    assert "transformers 4.57.1" in info.value.message and info.value.remedy == "pip install transformers==4.53.3"
    fake.__version__ = "4.53.3"
    load(root)


def test_path_and_g2p_helpers_are_torch_free():
    import subprocess

    from runner.components import BASE_MAX_FRAMES
    from runner.model_paths import BASE_MAX_FRAMES as PATHS_BASE

    assert PATHS_BASE == BASE_MAX_FRAMES
    code = (
        "import sys, runner.model_paths, runner.checkout_import, runner.lrc; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
