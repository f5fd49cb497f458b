"""Makes the screenshots in docs/images/ by driving each step in real Chromium.

.venv/bin/python -m docs.screenshots            # every step
.venv/bin/python -m docs.screenshots 1 2        # some steps
"""

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.chromium import find_chromium
from tests.conftest import CHROMIUM_ARGS
from tests.server import Server

IMAGES = Path(__file__).resolve().parent / "images"
VIEWPORT = {"width": 1100, "height": 900}


def user(browser, url, name):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url)
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def say(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def step1(browser, url):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url)
    page.click("#start")
    expect(page.locator("#send-a")).to_be_enabled()
    page.fill("#input-a", "Hello from A")
    page.click("#send-a")
    page.fill("#input-b", "Hi A, B here")
    page.click("#send-b")
    expect(page.locator("#log-a")).to_contain_text("Hi A, B here")
    return page


def step2(browser, url):
    ann = user(browser, f"{url}/?room=demo", "Ann")
    bob = user(browser, f"{url}/?room=demo", "Bob")
    say(bob, "Hi Ann! Is this really peer to peer?")
    expect(ann.locator("#log")).to_contain_text("Bob: Hi Ann")
    say(ann, "It is: the server only introduced us.")
    expect(ann.locator("#stats tr[data-stat=sent]")).to_be_visible()
    return ann


def step3(browser, url):
    ann, bob, cat = (user(browser, f"{url}/?room=demo", n) for n in ("Ann", "Bob", "Cat"))
    bob.locator('#users li[data-peer-name="Ann"] button').click()
    chat = bob.locator('.chat[data-peer-name="Ann"]')
    expect(chat.locator(".send")).to_be_enabled()
    chat.locator(".message").fill("Ann, lunch at one?")
    chat.locator(".send").click()
    cat.locator('#users li[data-peer-name="Ann"] button').click()
    chat = cat.locator('.chat[data-peer-name="Ann"]')
    expect(chat.locator(".send")).to_be_enabled()
    chat.locator(".message").fill("Psst, only you can read this.")
    chat.locator(".send").click()
    ann.locator('#users li[data-peer-name="Bob"] button').click()
    chat = ann.locator('.chat[data-peer-name="Bob"]')
    expect(chat.locator(".log")).to_contain_text("lunch at one")
    chat.locator(".message").fill("Sure, see you there.")
    chat.locator(".send").click()
    expect(ann.locator('#users li[data-peer-name="Cat"] .unread')).to_have_text("1")
    expect(ann.locator("#stats tr[data-stat=round-trip]").first).to_be_visible()
    return ann


def step4(browser, url):
    pages = [user(browser, f"{url}/?room=demo", n) for n in ("Ann", "Bob", "Cat", "Dan")]
    for page in pages:
        expect(page.locator("#channel-count")).to_have_text("3")
    for page, text in zip(pages, ("Hello everyone!", "Hi Ann", "Hey all", "Dan here"), strict=True):
        say(page, text)
    expect(pages[0].locator("#log")).to_contain_text("Dan: Dan here")
    return pages[0]


def step5(browser, url):
    pages = [user(browser, f"{url}/?room=demo", n) for n in ("Ann", "Bob", "Cat")]
    ann = pages[0]
    expect(ann.locator(".remote-tile")).to_have_count(2, timeout=20000)
    pages[2].click("#mic-toggle")
    ann.wait_for_function(
        "[...document.querySelectorAll('.remote-tile video')].every(v => v.videoWidth > 0)"
    )
    expect(ann.locator('.remote-tile[data-peer-name="Cat"] .tile-status')).to_have_text("muted")
    expect(ann.locator("#stats tr[data-stat=video-in]").first).to_contain_text("fps")
    return ann


STEPS = {1: step1, 2: step2, 3: step3, 4: step4, 5: step5}


def main(argv):
    chosen = [int(a) for a in argv] or list(STEPS)
    IMAGES.mkdir(exist_ok=True)
    chromium = find_chromium()  # before sync_playwright(): it starts one of its own
    with tempfile.TemporaryDirectory() as logs, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for number in chosen:
            server = Server(number, Path(logs))
            try:
                page = STEPS[number](browser, server.url)
                path = IMAGES / f"step{number}.png"
                page.screenshot(path=path, full_page=True)
                print(f"wrote {path}")
            finally:
                server.stop()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
