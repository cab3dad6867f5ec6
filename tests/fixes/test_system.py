"""espeak.install and container.use: the plans (applying them would change this machine or need docker)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from doctor.fixes import FIXES, plan_for
from doctor.fixes.context import FixContext, parse_os_release

UBUNTU = parse_os_release('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\n')


def _which(found: dict[str, str]):
    return lambda name: found.get(name)


def test_espeak_on_ubuntu_as_a_user_goes_through_sudo():
    plan = plan_for("espeak.install", FixContext(os_release=UBUNTU, euid=1000, which=_which({"sudo": "/usr/bin/sudo"})))
    assert [s.argv for s in plan.steps] == [("sudo", "apt-get", "update"), ("sudo", "apt-get", "install", "-y", "espeak-ng")]
    assert all(s.needs_root for s in plan.steps) and plan.needs_root
    assert "sudo" in plan.notes[0]


def test_espeak_as_root_needs_no_sudo():
    plan = plan_for("espeak.install", FixContext(os_release=UBUNTU, euid=0))
    assert plan.steps[1].argv == ("apt-get", "install", "-y", "espeak-ng")


def test_espeak_with_a_voice_that_lost_its_data_reinstalls_the_data():
    plan = plan_for("espeak.install", FixContext(os_release=UBUNTU, euid=0, espeak=False, espeak_broken_voices=("ko",)))
    assert [s.argv for s in plan.steps] == [("apt-get", "update"), ("apt-get", "install", "-y", "--reinstall", "espeak-ng-data")]
    assert any("cannot phonemize with ko" in note for note in plan.notes)


@pytest.mark.parametrize("os_release,argv", [
    ("ID=fedora\n", ("dnf", "install", "-y", "espeak-ng")),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', ("dnf", "install", "-y", "espeak-ng")),
    ("ID=manjaro\nID_LIKE=arch\n", ("pacman", "-S", "--needed", "--noconfirm", "espeak-ng")),
    ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', ("zypper", "--non-interactive", "install", "espeak-ng")),
])
def test_espeak_other_distros(os_release, argv):
    plan = plan_for("espeak.install", FixContext(os_release=parse_os_release(os_release), euid=0))
    assert plan.steps[-1].argv == argv


def test_espeak_blocked_cases():
    assert "by hand" in plan_for("espeak.install", FixContext(os_release={"ID": "plan9"})).blocked
    assert "sudo is not on PATH" in plan_for("espeak.install", FixContext(os_release=UBUNTU, euid=1000, which=_which({}))).blocked
    assert "fixture" in plan_for("espeak.install", FixContext(root=Path("/tmp/x"), os_release=UBUNTU)).blocked
    assert plan_for("espeak.install", FixContext(os_release=UBUNTU, espeak=True)).empty


def test_container_use_builds_the_image_in_the_flavour_this_driver_runs():
    """drdoctor's image is in no registry: the plan builds it here (never `container pull` of an unpublished
    image), in the newest flavour the driver runs fully (the `torch.cuda_match` rule), and names that image."""
    plan = plan_for("container.use", FixContext(which=_which({}), models_dirs=(Path("/data/models"),),
                                                driver_cuda=(12, 8), driver_version="570.124.04"))
    [build] = plan.steps
    assert build.argv == (sys.executable, "-m", "doctor", "container", "build", "--flavour", "cu128")
    assert any("container run generate --image drdoctor:cu128" in note and "--models /data/models" in note
               for note in plan.notes)
    # no flavour starts on a pre-R525 driver (the image installs PyPI's CUDA 12/13 builds): the exact driver to get
    old_driver = plan_for("container.use", FixContext(which=_which({"drdoctor": "/usr/local/bin/drdoctor"}),
                                                      driver_cuda=(11, 4), driver_version="470.82.01"))
    assert not old_driver.steps and "install driver 525.60.13 or newer" in old_driver.blocked
    assert "this one is 470.82.01, CUDA 11.4" in old_driver.blocked and "--cpu" in old_driver.blocked
    r535 = plan_for("container.use", FixContext(driver_cuda=(12, 2), driver_version="535.104.05"))
    assert r535.steps[0].argv[-1] == "cu128"  # through minor-version compatibility: the newest CUDA 12 flavour
    assert plan_for("container.use", FixContext(container_ready=True)).empty


def test_every_fix_id_the_checks_name_is_known():
    import re

    import doctor.checks

    named = set()
    for source in Path(doctor.checks.__file__).parent.glob("*.py"):
        named |= set(re.findall(r'fix="([^"]+)"', source.read_text(encoding="utf-8")))
    assert named and named <= set(FIXES), named - set(FIXES)
    for fix_id in FIXES:
        plan = plan_for(fix_id, FixContext(root=Path("/nonexistent-root")))  # never raises on an empty context
        assert plan.fix_id == fix_id and (plan.blocked or plan.steps or plan.done_reason)


def test_pip_sources_can_be_overridden_by_flag_or_environment():
    from doctor.fixes.context import PipSource

    assert PipSource().args("https://download.pytorch.org/whl/cu126") == ["--index-url", "https://download.pytorch.org/whl/cu126"]
    assert PipSource().args() == []  # PyPI, as pip is configured
    env = {"DRDOCTOR_PIP_FIND_LINKS": "/w1:/w2"}
    assert PipSource.from_env(env).args("https://x") == ["--no-index", "--find-links", "/w1", "--find-links", "/w2"]
    env = {"DRDOCTOR_PIP_INDEX_URL": "http://127.0.0.1:8080/simple"}
    assert PipSource.from_env(env).args("https://x") == ["--index-url", "http://127.0.0.1:8080/simple"]
    flags = PipSource.from_env(env, index_url="http://mirror/simple", find_links=["/w"])
    assert flags.args() == ["--index-url", "http://mirror/simple", "--find-links", "/w"]
