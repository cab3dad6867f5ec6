"""WSL2 with a Linux NVIDIA driver also installed inside the distro: its libnvidia-ml / libcuda shadow the
Windows driver's under /usr/lib/wsl/lib. The findings name the files and WSL's remedy, never native Linux's."""

from __future__ import annotations

from doctor_machines import build_root, checkup, finding, make_venv

NATIVE_ONLY = ("Reboot", "Secure Boot", "kernel module", "seated", "nvidia-utils")
SHADOWS = ("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1")


def test_a_linux_driver_inside_wsl2_is_named_with_the_wsl_remedy(tmp_path):
    root = build_root(tmp_path / "m", "wsl2", "wsl2_linux_driver")
    report = checkup(root)
    libcuda = finding(report, "gpu.wsl_libcuda")
    assert libcuda.status.value == "fail", libcuda  # it was "ok": the Windows driver's libcuda exists too
    assert report.facts.gpu.linux_driver_libs == SHADOWS  # the link into /usr/lib/wsl/lib is not one
    driver = finding(report, "gpu.driver")
    assert driver.status.value == "fail"
    for found in (libcuda, driver):
        text = found.title + " " + found.detail
        assert all(path in text for path in SHADOWS), text
        assert f"dpkg -S {' '.join(SHADOWS)}" in text and "wsl --shutdown" in text and "sudo ldconfig" in text
        assert not [word for word in NATIVE_ONLY if word in text], text


def test_nvml_failing_on_wsl2_without_a_linux_driver_gives_wsl_advice_only(tmp_path):
    root = build_root(tmp_path / "m", "wsl2")
    (root / "nvml.json").write_text('{"status": "no_driver", "error": "the NVIDIA kernel driver is not loaded"}')
    driver = finding(checkup(root), "gpu.driver")
    assert driver.status.value == "warn"
    assert "Windows" in driver.detail and "wsl --shutdown" in driver.detail
    assert not [word for word in NATIVE_ONLY if word in driver.title + driver.detail]

    (root / "nvml.json").write_text('{"status": "ok", "driver_version": "566.03", "devices": []}')
    driver = finding(checkup(root), "gpu.driver")
    assert "Device Manager" in driver.detail and not [w for w in NATIVE_ONLY if w in driver.title + driver.detail]


def test_the_windows_driver_alone_is_ok_and_native_linux_keeps_its_advice(tmp_path):
    report = checkup(build_root(tmp_path / "wsl", "wsl2"))
    assert finding(report, "gpu.wsl_libcuda").status.value == "ok"
    assert report.facts.gpu.linux_driver_libs == ()
    native = build_root(tmp_path / "native", "no_gpu")
    (native / "nvml.json").write_text('{"status": "no_driver", "error": "the NVIDIA kernel driver is not loaded"}')
    assert "Secure Boot" in finding(checkup(native), "gpu.driver").detail


def test_a_cuda_13_torch_on_wsl2_is_told_to_update_the_windows_driver(tmp_path):
    root = build_root(tmp_path / "m", "wsl2")  # the Windows driver 566.03 supports CUDA 12.7
    match = finding(checkup(root, make_venv(tmp_path / "venv", "default_index_torch_2.14")), "torch.cuda_match")
    assert match.status.value == "fail"
    assert "Update the driver on Windows" in match.detail and "Linux driver" not in match.detail
