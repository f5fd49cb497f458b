"""Choosing the browsers the tests drive (tests/browsers.py): BROWSERS, a missing browser."""

import pytest

from tests import browsers
from tests.conftest import missing


def test_browsers_picks_one_or_both_and_refuses_a_name_it_does_not_know(monkeypatch):
    monkeypatch.delenv("BROWSERS", raising=False)
    assert browsers.selected() == ["chromium", "firefox"]
    monkeypatch.setenv("BROWSERS", "firefox")
    assert browsers.selected() == ["firefox"]
    monkeypatch.setenv("BROWSERS", " chromium , firefox ")
    assert browsers.selected() == ["chromium", "firefox"]
    monkeypatch.setenv("BROWSERS", "safari")
    with pytest.raises(SystemExit, match="BROWSERS=safari: use chromium, firefox or both"):
        browsers.selected()


def test_a_firefox_that_is_not_there_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.delenv("FIREFOX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browsers.find("firefox") is None
    with pytest.raises(browsers.Missing, match="apt-get install firefox-esr"):
        browsers.launch_options("firefox", None)
    monkeypatch.setenv("FIREFOX", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit, match="is not a file"):
        browsers.find("firefox")


def test_off_path_browsers_are_found_where_they_install_themselves_on_windows(tmp_path):
    """As Playwright's chrome, msedge and moz-firefox channels look for them: here a Firefox and
    an Edge (no Chrome) under a stand-in for C:\\Program Files."""
    firefox = tmp_path / "x64" / "Mozilla Firefox" / "firefox.exe"
    edge = tmp_path / "x86" / "Microsoft" / "Edge" / "Application" / "msedge.exe"
    for path in (firefox, edge):
        path.parent.mkdir(parents=True)
        path.write_text("")
    environ = {"ProgramFiles": str(tmp_path / "x64"), "ProgramFiles(x86)": str(tmp_path / "x86")}
    assert browsers.installed_binary("firefox", "win32", environ) == str(firefox)
    assert browsers.installed_binary("chromium", "win32", environ) == str(edge)
    assert browsers.installed_binary("chromium", "win32", {}) is None
    assert browsers.installed_binary("firefox", "linux", environ) is None


@pytest.mark.parametrize(
    ("platform", "advice"),
    [("darwin", "Firefox (firefox.com) in /Applications"), ("win32", "set FIREFOX=C:")],
)
def test_the_advice_for_a_missing_browser_suits_the_system(platform, advice):
    assert advice in browsers.how_to_get("firefox", platform)
    assert "apt-get" not in browsers.how_to_get("chromium", platform)


def test_a_missing_browser_is_a_skip_locally_and_a_failure_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="No firefox"):
        missing("No firefox for the browser tests")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"No firefox .*\(.ci/run installs it\)"):
        missing("No firefox for the browser tests")


def test_firefox_is_launched_offline_with_fake_media_and_loopback():
    options = browsers.launch_options("firefox", "/usr/bin/firefox-esr")
    assert options["channel"] == "moz-firefox"
    assert options["env"]["MOZ_REMOTE_SETTINGS_DEVTOOLS"] == "1"
    prefs = options["firefox_user_prefs"]
    for pref in ("media.navigator.streams.fake", "media.peerconnection.ice.loopback"):
        assert prefs[pref] is True
