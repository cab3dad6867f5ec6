"""From nothing to a song: install a family whose environment holds torch (this machine's CPU wheel from its
configured package sources), then `drdoctor check` and `drdoctor generate` with no flags but the song's."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, clean_env, drdoctor, make_family, torch_sources, weight_bytes


@pytest.fixture
def installed(tmp_path, upstream, hub, wheelhouse):
    index, links = torch_sources()
    family = make_family(tmp_path, upstream, hub, inputs="numpy\nddtiny-beta\n", import_check=["numpy", "ddtiny_beta"],
                         checkout_import=True, torch="2.13.0", index_url=index,
                         find_links=[*links, str(wheelhouse)], files=weight_bytes(tmp_path, real_networks=True))
    env = clean_env(tmp_path, hub.url)
    args = ["install", "--yes", "--no-check", "--torch-variant", "cpu", "--index-url", index]
    for link in [*links, str(wheelhouse)]:
        args += ["--find-links", link]
    done = drdoctor(env, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return family, env, args, done


def test_install_check_generate(installed, tmp_path, hub):
    family, env, args, done = installed
    # the import check ran the checkout's model code in the new environment, through the runner's importer
    marker = json.loads((tmp_path / "data" / "diffrhythm-1.2" / "env" / "drdoctor-env.json").read_text())
    assert marker["check"]["checkout"] == "model.cfm.CFM, model.dit.DiT"
    assert marker["check"]["torch"]["version"].startswith("2.13.0") and marker["check"]["torch"]["cuda"] is None
    assert "drdoctor generate --lyrics" in done.stdout  # the first-song command

    check = drdoctor(env, "check", "--json")
    findings = {f["id"]: f for f in json.loads(check.stdout)["findings"]}
    for check_id in ("models.checkout", "torch.build", "models.cfm", "models.vae"):
        assert findings[check_id]["status"] == "ok", (check_id, findings[check_id])

    style = tmp_path / "style.npy"
    np.save(style, np.full((1, 512), 0.04, dtype=np.float32))
    lyrics = tmp_path / "song.lrc"
    lyrics.write_text("[00:00.50]hello there\n[00:01.20]a tiny song\n", encoding="utf-8")
    song = tmp_path / "song.wav"
    gen = drdoctor(env, "generate", "--lyrics", str(lyrics), "--style-embedding", str(style), "--length", "95",
                   "--steps", "4", "--out", str(song), "--run-dir", str(tmp_path / "runs"), timeout=300)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    with wave.open(str(song)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (44100, 2, 2)
        assert w.getnframes() >= 90 * 44100

    # huggingface_hub itself, offline, finds what the installer put in the cache
    code = ("import sys; from huggingface_hub import hf_hub_download; "
            "print(hf_hub_download('ASLP-lab/DiffRhythm-vae', 'vae_model.pt', cache_dir=sys.argv[1], local_files_only=True))")
    found = subprocess.run([sys.executable, "-c", code, str(tmp_path / "hf")], capture_output=True, text=True,
                           timeout=60, env={**env, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert Path(found.stdout.strip()).read_bytes() == family.files[("ASLP-lab/DiffRhythm-vae", "vae_model.pt")]

    gets = [e for e in hub.log if e[0] == "GET"]
    again = drdoctor(env, *args)
    assert again.returncode == 0, again.stdout
    assert [e for e in hub.log if e[0] == "GET"] == gets
    assert "already built from cpu.txt" in again.stdout or "was built from this lock and checked" in again.stdout
