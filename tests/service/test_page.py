"""The page at GET / in Debian's headless Chromium: submit a song on the bundle, watch it finish, hear it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("SE_OFFLINE", "true")  # the drivers are Debian's: Selenium Manager must not download any
    profile = tempfile.mkdtemp(prefix="drdoctor-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_page_submits_a_song_shows_its_stages_and_plays_it(service, browser):
    browser.get(service.base + "/")
    form = browser.find_element(By.ID, "song")
    style = form.find_element(By.NAME, "style")
    style.clear()
    style.send_keys("a song from the browser")
    form.find_element(By.NAME, "length").send_keys("3")
    steps = form.find_element(By.NAME, "steps")
    steps.clear()
    steps.send_keys("4")
    form.find_element(By.NAME, "seed").send_keys("4001")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait = WebDriverWait(browser, 60, poll_frequency=0.1)
    wait.until(lambda d: "queued" in d.find_element(By.ID, "status").text or "succeeded" in
               d.find_element(By.ID, "status").text)
    audio = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#songs audio"))[0]
    status = browser.find_element(By.ID, "status").text
    assert status.endswith("succeeded"), status
    for stage in ("preflight", "load", "lyrics", "style", "sample", "decode", "validate", "write"):
        bar = browser.find_element(By.ID, f"p-{stage}")
        assert bar.get_attribute("value") == bar.get_attribute("max"), f"stage {stage} not shown as done"
    assert browser.find_element(By.ID, "s-sample").text.endswith(" s")  # sampling finished, its seconds shown
    # the audio element plays the result: it loaded the real WAV and its clock moves
    wait.until(lambda d: d.execute_script("return arguments[0].currentTime > 0.2", audio))
    duration = browser.execute_script("return arguments[0].duration", audio)
    assert abs(duration - 3.0) < 0.2
    assert browser.execute_script("return arguments[0].error", audio) is None
    job_id = int(browser.find_element(By.CSS_SELECTOR, "#songs li").get_attribute("data-job"))
    from doctor.service import store

    job = store.get_job(service.url, job_id)
    assert job["state"] == "succeeded" and job["seed"] == 4001
