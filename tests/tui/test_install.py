"""Install DiffRhythm in the app: the installer's plan, consent, the install with live progress, cancel and resume.

Against tests/install's real stand-ins: a local git repository as upstream, the Hub's protocol on 127.0.0.1
(the real huggingface_hub client through HF_ENDPOINT), small real wheels; the app runs the real
`drdoctor install` subprocess and the real checkup."""

# ruff: noqa: F811 - the fixtures come from install_fixtures and are named as the tests' arguments
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import tomllib
from textual.widgets import Static

from doctor.findings import Status
from doctor.tui.app import DrDoctorApp
from doctor.tui.options import TuiOptions
from doctor.tui.screens.checkup import CheckupScreen
from doctor.tui.screens.install import InstallScreen
from doctor.tui.screens.install_consent import InstallConsent
from doctor.tui.widgets.download_progress import DownloadBars
from doctor.units import gib
from install_fixtures import hub, install, light, upstream, use_env, wheelhouse  # noqa: F401 - fixtures
from tuitools import toasts, wait_until

VAE = ("ASLP-lab/DiffRhythm-vae", "vae_model.pt")


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its size and mtime (links by their target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (path.is_symlink() and str(path.readlink()), st.st_size, st.st_mtime_ns)
    return out


def recorded(env) -> dict:
    path = Path(env["DRDOCTOR_CONFIG"])
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def app_for(*install_args: str, autostart: bool = False) -> DrDoctorApp:
    options = TuiOptions(autostart_checkup=autostart, install_args=["--torch-variant", "cpu", *install_args])
    return DrDoctorApp(options, mode="install")


async def planned(pilot) -> InstallScreen:
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.plan is not None and not screen.planning)
    return screen


async def install_and_wait(pilot, screen: InstallScreen, timeout: float = 120) -> int:
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: screen.running, timeout=30)
    await wait_until(pilot, lambda: not screen.running, timeout=timeout)
    await wait_until(pilot, lambda: not screen.checking, timeout=60)
    await pilot.pause()
    return screen.state.exit_code


async def test_the_plan_is_the_installers_and_changes_nothing(light, wheelhouse, tmp_path, monkeypatch):
    family, env = light
    env = {**env, "DRDOCTOR_PIP_FIND_LINKS": str(wheelhouse)}
    use_env(monkeypatch, env)
    before = tree(tmp_path)
    async with app_for().run_test(size=(80, 24)) as pilot:
        await planned(pilot)
        shown = text(pilot.app, "#install-plan")
    assert tree(tmp_path) == before
    # the same plan as `drdoctor install --dry-run --json`: facts, and each part's state, reason and notes
    cli = subprocess.run([sys.executable, "-m", "doctor", "install", "--dry-run", "--json", "--torch-variant", "cpu"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    plan = json.loads(cli.stdout)
    free = re.compile(r"[\d.]+ [KMGT]?i?B free")  # the disk's free space moves between the two plans
    for fact in plan["facts"]:
        assert fact in shown
    for part in plan["parts"]:
        assert f"{part['fix']}: {part['title']}" in shown
        for note in part["notes"]:
            assert free.sub("", note) in free.sub("", shown)
        if part["reason"]:
            assert part["reason"] in shown
        for step in part["steps"]:
            assert step["description"] in shown
    commit = family.data["upstream"]["commit"]
    data = tmp_path / "data" / "diffrhythm-1.2"
    assert f"at {commit}" in shown and str(data / "checkout") in shown and str(data / "env") in shown
    assert "torch build: --torch-variant cpu" in shown
    assert "ddtiny-alpha==1.0, ddtiny-beta==1.0" in shown
    for (repo, name), content in family.files.items():
        assert f"{repo} {name}  {len(content)} B  to download" in shown
    total = sum(len(c) for c in family.files.values())
    assert f"space: {total / 1024:.1f} KiB needed" in shown and "free in" in shown
    assert "needs no espeak-ng" in shown


async def test_declined_consent_changes_nothing(light, hub, tmp_path, monkeypatch):
    _, env = light
    use_env(monkeypatch, env)
    before = tree(tmp_path)
    # packages from an index (not a local wheel folder): building the environment is a download over 1 GB
    app = app_for("--index-url", f"{hub.url}/simple")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await planned(pilot)
        assert "asks first: install.environment downloads over 1 GB" in text(app, "#install-plan")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallConsent))
        body = text(app, "#consent-body")
        assert "install.environment downloads over 1 GB" in body and "nothing is downloaded" in body
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen and "nothing was changed" in toasts(app))
        assert screen.process is None and not screen.running
    assert tree(tmp_path) == before
    assert not [e for e in hub.log if e[0] == "GET"]


async def test_a_full_install_shows_live_progress_then_the_checkup_is_ok(tmp_path, upstream, hub, wheelhouse,
                                                                          monkeypatch):
    index, links = install.torch_sources()
    family = install.make_family(tmp_path, upstream, hub, inputs="numpy\nddtiny-beta\n",
                                 import_check=["numpy", "ddtiny_beta"], checkout_import=True, torch="2.13.0",
                                 index_url=index, find_links=[*links, str(wheelhouse)],
                                 files=install.weight_bytes(tmp_path, real_networks=True))
    use_env(monkeypatch, install.clean_env(tmp_path, hub.url))
    biggest = max(len(c) for c in family.files.values())
    hub.rate = biggest / 1.6  # the biggest file takes 1.6 s: its progress is reported (each second) while it comes
    args = ["--index-url", index] + [a for link in [*links, str(wheelhouse)] for a in ("--find-links", link)]
    app = app_for(*args)
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await planned(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.running, timeout=30)
        while screen.running:
            rows = screen.query_one(DownloadBars).text()
            seen += [row for row in rows if "/s, ETA" in row and "(100.0%)" not in row]
            parts = text(app, "#install-parts")
            if "install.weights" in parts and "running" in parts.split("install.weights", 1)[1].split("\n")[0]:
                seen.append("weights running")
            await pilot.pause(0.1)
        await wait_until(pilot, lambda: not screen.checking, timeout=60)
        await pilot.pause()
        assert screen.state.exit_code == 0, "\n".join(screen.query_one("#install-log Log").lines)
        assert "weights running" in seen
        assert any("MiB" in row or "KiB" in row for row in seen), seen  # bytes, rate and ETA, live
        parts = text(app, "#install-parts")
        for part in ("install.checkout", "install.environment", "install.weights", "install.config"):
            assert f"{part:<20} applied" in parts, parts
        outcome = text(app, "#install-outcome")
        assert "DiffRhythm is installed. Make your first song:" in outcome and " generate --lyrics " in outcome
        # the checkup ran again in the app and finds what was installed, with no flags
        findings = {f.id: f for f in app.report.findings}
        for check_id in ("models.checkout", "torch.build", "models.cfm", "models.vae"):
            assert findings[check_id].status is Status.OK, (check_id, findings[check_id])
            assert f"✓ ok   {check_id}" in outcome
        data = tmp_path / "data" / "diffrhythm-1.2"
        assert str(data / "checkout") in findings["models.checkout"].title
        assert str(data / "env" / "bin" / "python") in findings["torch.build"].title
    for repo, name in family.files:
        assert len(hub.gets(repo, name)) == 1


async def test_hub_unreachable_is_named_and_nothing_is_recorded_for_it(light, wheelhouse, tmp_path, monkeypatch):
    _, env = light
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_env(monkeypatch, {**env, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "DRDOCTOR_PIP_FIND_LINKS": str(wheelhouse)})
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await planned(pilot)
        why = f"the Hugging Face Hub (HF_ENDPOINT) cannot be reached: http://127.0.0.1:{port}"
        shown = text(app, "#install-plan")
        assert f"cannot reach: {why}" in shown and "--models DIR" in shown and "container" in shown
        assert await install_and_wait(pilot, screen) == 3
        assert "something could not be reached" in text(app, "#install-title")
        parts = text(app, "#install-parts")
        assert f"install.weights      blocked: {why}" in parts and "--models DIR" in parts
        assert "install.environment  applied" in parts  # what could be done was done
        assert "not complete yet: weights" in text(app, "#install-outcome")
    assert "models" not in recorded(env) and "python" in recorded(env)["diffrhythm"]  # kept what it could do


async def test_cancel_mid_download_keeps_the_partial_and_the_next_install_continues_it(tmp_path, upstream, hub,
                                                                                       wheelhouse, monkeypatch):
    family = install.make_family(tmp_path, upstream, hub, inputs="ddtiny-beta\n", import_check=["ddtiny_beta"],
                                 checkout_import=False, torch=None, index_url=None, find_links=[str(wheelhouse)],
                                 files=install.weight_bytes(tmp_path, real_networks=False, big=4 << 20))
    env = {**install.clean_env(tmp_path, hub.url), "DRDOCTOR_PIP_FIND_LINKS": str(wheelhouse)}
    use_env(monkeypatch, env)
    hub.rate = 2 << 20  # 2 MiB/s: the VAE file takes 2 s
    blobs = tmp_path / "hf" / "models--ASLP-lab--DiffRhythm-vae" / "blobs"
    sha = hashlib.sha256(family.files[VAE]).hexdigest()
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await planned(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: (d := screen.state.downloads.get(VAE)) is not None and d.done >= (1 << 20),
                         timeout=60, shown=lambda: "\n".join([text(app, "#install-parts"),
                                                              *screen.query_one("#install-log Log").lines]))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.running and not screen.checking, timeout=60)
        await pilot.pause()
        assert screen.state.exit_code == 130
        assert "install.weights      interrupted" in text(app, "#install-parts")
        outcome = text(app, "#install-outcome")
        assert "the partial download of vae_model.pt" in outcome and "continues it" in outcome
        partial = list(blobs.glob(f"{sha}*.incomplete"))
        assert len(partial) == 1 and not (blobs / sha).exists()
        kept = partial[0].stat().st_size
        assert (1 << 20) <= kept < (4 << 20)
        assert "models" not in recorded(env)  # the weights are not recorded as installed
        others = [key for key in family.files if key != VAE]
        finished = [key for key, d in screen.state.downloads.items() if d.state == "finished"]
        assert finished and all(len(hub.gets(*key)) == 1 for key in finished)

        hub.rate = None
        assert await install_and_wait(pilot, screen) == 0
        assert hub.gets(*VAE)[-1] == f"bytes={kept}-"  # continued, not started again
        assert all(len(hub.gets(*key)) == 1 for key in others)  # finished files are not fetched again
        assert (blobs / sha).read_bytes() == family.files[VAE]
        assert "continued at" in " ".join(screen.query_one(DownloadBars).text())
    assert recorded(env)["models"] == {"dir": str(tmp_path / "hf")}


async def test_the_checkup_offers_the_install_when_it_is_missing(light, wheelhouse, tmp_path, monkeypatch):
    _, env = light
    use_env(monkeypatch, {**env, "DRDOCTOR_PIP_FIND_LINKS": str(wheelhouse)})
    app = DrDoctorApp(TuiOptions(install_args=["--torch-variant", "cpu"]))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_until(pilot, lambda: app.report is not None and not screen.running)
        offer = screen.query_one("#install-offer")
        assert not offer.has_class("-hidden")
        assert "models.checkout" in text(app, "#install-offer-text")
        button = screen.query_one("#install-offer-button")
        await wait_until(pilot, lambda: button.region.width > 0)  # laid out, where the click lands
        await pilot.pause()
        assert await pilot.click("#install-offer-button")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallScreen))
        await planned(pilot)
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, CheckupScreen))
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallScreen))


def test_every_install_binding_has_an_id_and_a_tooltip():
    for owner in (InstallScreen, InstallConsent):
        for binding in owner.BINDINGS:
            assert binding.id and binding.tooltip, (owner.__name__, binding.key)


async def test_the_real_familys_plan_names_the_torch_choice_and_asks_before_gigabytes(hub, tmp_path, monkeypatch):
    """DiffRhythm 1.2's own family data (only its upstream pointed at a folder that does not exist): the torch
    build chosen for a CUDA 12.6 driver and why, the weights' real sizes, the blocked parts with their routes,
    espeak-ng to be installed as root, and the consent dialog before 2 GiB of weights and before the package
    manager; declining changes nothing (the package manager never runs)."""
    families = tmp_path / "families"
    shutil.copytree(install.REAL_FAMILY.parent, families)
    data = json.loads(install.REAL_FAMILY.read_text(encoding="utf-8"))
    data["upstream"]["repo"] = str(tmp_path / "no-such-upstream")
    (families / install.REAL_FAMILY.name).write_text(json.dumps(data), encoding="utf-8")
    tools = tmp_path / "bin"  # a PATH with git and the package manager but no espeak-ng: it is to be installed
    tools.mkdir()
    for tool in ("git", "apt-get", "dnf", "pacman", "zypper", "apk", "sudo"):
        if shutil.which(tool):
            (tools / tool).symlink_to(shutil.which(tool))
    use_env(monkeypatch, {**install.clean_env(tmp_path, hub.url), "PATH": str(tools)})
    before = tree(tmp_path)
    app = DrDoctorApp(TuiOptions(autostart_checkup=False, install_args=["--driver-cuda", "12.6"]), mode="install")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await planned(pilot)
        shown = text(app, "#install-plan")
        cu126 = data["environment"]["variants"]["cu126"]
        assert f"torch build: driver (CUDA 12.6) -> cu126 (torch {cu126['torch']})" in shown
        assert f"torchaudio {cu126['torchaudio']} paired with torch {cu126['torch']} (muq imports it" in shown
        cfm = next(f for role in data["weights"] if role["id"] == "cfm" for f in role["files"])
        assert f"ASLP-lab/DiffRhythm-1_2 cfm_model.pt  {gib(cfm['size'])}  to download" in shown
        assert f"the source host {tmp_path / 'no-such-upstream'} cannot be reached" in shown
        assert "--diffrhythm DIR" in shown
        assert "cu126.txt (exact versions and sha256 hashes)" in shown  # PyPI's torch 2.7.1 is its CUDA 12.6 build
        assert "install.weights downloads over 1 GB" in shown.split("asks first: ")[1].split("\n")[0]
        # the system packages: espeak-ng through the package manager, as root (sudo when not root)
        assert "espeak.install runs as root" in shown and "[needs root]" in shown
        assert ("through sudo" in shown) == (os.geteuid() != 0)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, InstallConsent))
        body = text(app, "#consent-body")
        assert "install.weights downloads over 1 GB" in body and "espeak.install runs as root: " in body
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen and "nothing was changed" in toasts(app))
    assert tree(tmp_path) == before
    assert not [e for e in hub.log if e[0] == "GET"]


def test_drdoctor_tui_passes_its_folders_and_install_args_on():
    from doctor.commands.tui import _parser, build_options

    options = build_options(_parser().parse_args(["--models", "/m", "--install-args=--torch-variant cu130 --full-weights",
                                                  "--no-checkup"]))
    assert options.install_argv() == ["--models", "/m", "--torch-variant", "cu130", "--full-weights"]


def test_ctrl_c_stops_the_install_where_it_is_and_records_only_what_is_complete(light, wheelhouse, hub, tmp_path,
                                                                               monkeypatch):
    """The cancel the app sends is a terminal's Ctrl-C: the part that runs stops (its step is the stand-in below,
    which sends it), the later parts do not run, the config step records only what is complete, and the
    events say so."""
    import dataclasses

    from doctor.commands import install as install_cmd
    from doctor.fixes.plan import CommandStep, Plan

    _, env = light
    events = tmp_path / "events.ndjson"
    use_env(monkeypatch, env)
    args = install_cmd.parser().parse_args(["--yes", "--no-check", "--torch-variant", "cpu", "--find-links",
                                            str(wheelhouse), "--events", str(events)])
    opts, plan = install_cmd.make_plan(args)
    code = "import os, signal, time; os.kill(os.getppid(), signal.SIGINT); time.sleep(30)"
    sends_ctrl_c = CommandStep((sys.executable, "-c", code), "a clone that is interrupted")
    plan = dataclasses.replace(plan, parts=[Plan("install.checkout", "the source", steps=(sends_ctrl_c,)),
                                            *plan.parts[1:]])
    assert install_cmd.apply(opts, plan, args) == 130
    seen = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    started = [e["part"] for e in seen if e["type"] == "part_started"]
    assert started == ["install.checkout", "install.config"]  # neither the environment nor the weights
    finished = {e["part"]: e["state"] for e in seen if e["type"] == "part_finished"}
    assert finished == {"install.checkout": "interrupted", "install.config": "done"}
    assert seen[-1]["type"] == "install_finished" and seen[-1]["exit_code"] == 130
    assert seen[-1]["installed"] == {"checkout": False, "environment": False, "weights": False}
    assert not (tmp_path / "data" / "diffrhythm-1.2" / "env").exists()
    assert not [e for e in hub.log if e[0] == "GET"] and recorded(env) == {}
