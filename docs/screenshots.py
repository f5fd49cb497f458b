"""Makes the screenshots in docs/images/ by driving each step in real Chromium.

.venv/bin/python -m docs.screenshots            # every step
.venv/bin/python -m docs.screenshots 1 2        # some steps (5 also makes phone-step5.png)

Each shot gets a server of its own (`python -m common.run`, as `make run` starts it) and fresh
browser contexts, one per user, closed once the picture is taken.
"""

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests import browsers, coturn
from tests.server import Server

IMAGES = Path(__file__).resolve().parent / "images"
VIEWPORT = {"width": 1100, "height": 900}
PHONE = {"width": 360, "height": 740}
# Video set-up on a small machine takes a few seconds; 20 s is plenty, and still fails a stuck run.
TIMEOUT_MS = 20_000
# A shot whose page never shows what it should (see expect_traffic) is taken again, this often.
ATTEMPTS = 3

ALL_VIDEOS_PLAY = "[...document.querySelectorAll('video')].every((v) => v.videoWidth > 0)"


def user(browser, url, name, address="/?room=demo", **context_options):
    """One more person: a fresh browser context that opens the page (room demo unless `address`
    says otherwise) and joins."""
    context = browser.new_context(**({"viewport": VIEWPORT} | context_options))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url + address)
    expect(page.locator("#signaling-state")).to_have_text("connected")
    page.fill("#name", name)
    page.click("#join")
    return page


def users(browser, url, *names):
    return [user(browser, url, name) for name in names]


def say(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def expect_stats(page, tables, row):
    """Waits until there are `tables` stats tables and each shows `row` (a data-stat name)."""
    expect(page.locator("#stats table")).to_have_count(tables)
    expect(page.locator(f"#stats tr[data-stat={row}]")).to_have_count(tables)


def expect_traffic(page, tables):
    """Waits until each stats table has counted bytes both ways on its chosen candidate pair.

    A pair's totals start from zero, and ICE may still switch to a better pair while the chat goes
    on: then a table reads "0 B in all", this fails after a few seconds, and main() tries again.
    """
    expect_stats(page, tables, "received")
    for row in page.locator("#stats tr[data-stat=sent], #stats tr[data-stat=received]").all():
        expect(row).not_to_contain_text(" 0 B in all", timeout=5_000)


def step1(browser, url):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url)
    page.click("#start")
    expect(page.locator("#send-a")).to_be_enabled()
    page.fill("#input-a", "Hello from A")
    page.click("#send-a")
    expect(page.locator("#send-b")).to_be_enabled()
    page.fill("#input-b", "Hi A, B here")
    page.click("#send-b")
    expect(page.locator("#log-a")).to_contain_text("Hi A, B here")
    candidates = page.locator("#candidates")
    expect(candidates).to_contain_text("A: gathering complete")
    expect(candidates).to_contain_text("B: gathering complete")
    candidates.evaluate("log => log.scrollTo(0, 0)")  # A's first candidates, in the found order
    return page


def step2(browser, url):
    ann, bob = users(browser, url, "Ann", "Bob")
    expect_stats(ann, 1, "received")
    say(bob, "Hi Ann! Is this really peer to peer?")
    expect(ann.locator("#log")).to_contain_text("Bob: Hi Ann")
    say(ann, "It is: the server only introduced us.")
    expect(bob.locator("#log")).to_contain_text("Ann: It is")
    expect_traffic(ann, 1)
    return ann


def private_message(page, to, text):
    page.locator(f'#users li[data-peer-name="{to}"] button').click()
    chat = page.locator(f'.chat[data-peer-name="{to}"]')
    expect(chat.locator(".send")).to_be_enabled()
    chat.locator(".message").fill(text)
    chat.locator(".send").click()
    return chat


def step3(browser, url):
    ann, bob, cat = users(browser, url, "Ann", "Bob", "Cat")
    private_message(bob, "Ann", "Ann, lunch at one?")
    private_message(cat, "Ann", "Psst, only you can read this.")
    ann.locator('#users li[data-peer-name="Bob"] button').click()
    chat = ann.locator('.chat[data-peer-name="Bob"]')
    expect(chat.locator(".log")).to_contain_text("lunch at one")
    private_message(ann, "Bob", "Sure, see you there.")
    expect(chat.locator(".log")).to_contain_text("You: Sure, see you there.")
    # Cat's message waits unread; both connections are up, each with its own badge.
    expect(ann.locator('#users li[data-peer-name="Cat"] .unread')).to_have_text("1")
    expect(ann.locator("#users .connection-state")).to_have_text(["connected", "connected"])
    expect_stats(ann, 2, "received")
    return ann


def step4(browser, url):
    ann, bob, cat, dan = users(browser, url, "Ann", "Bob", "Cat", "Dan")
    for page in (ann, bob, cat, dan):
        expect(page.locator("#channel-count")).to_have_text("3")
    expect_stats(ann, 3, "received")
    say(bob, "Hello everyone!")
    say(cat, "Hi Bob")
    say(dan, "Hey all, Dan here")
    # Ann answers once she has heard everyone: each of her channels then carries traffic both
    # ways on the candidate pair it ends up on, which the stats tables show.
    for line in ("Bob: Hello everyone!", "Cat: Hi Bob", "Dan: Hey all"):
        expect(ann.locator("#log")).to_contain_text(line)
    say(ann, "Hi all, Ann here")
    expect(ann.locator("#connection-count")).to_have_text("3")
    expect(ann.locator("#mesh-summary")).to_contain_text("4 in the room")
    expect(ann.locator("#users .connection-state")).to_have_text(["connected"] * 3)
    expect_traffic(ann, 3)
    return ann


def step5(browser, url):
    ann, bob, cat = users(browser, url, "Ann", "Bob", "Cat")
    expect(ann.locator(".remote-tile")).to_have_count(2)
    bob.click("#mic-toggle")
    expect(bob.locator("#mic-toggle")).to_have_text("Unmute microphone")
    say(bob, "Can you see me? I muted my mic.")
    expect(ann.locator("#log")).to_contain_text("Bob: Can you see me?")
    say(cat, "Yes, Bob, and your tile says muted.")
    expect(ann.locator("#log")).to_contain_text("Cat: Yes, Bob")
    say(ann, "Hi both, all three videos play here.")
    expect(ann.locator('.remote-tile[data-peer-name="Bob"] .tile-status')).to_have_text("muted")
    expect(ann.locator(".remote-tile .connection-state")).to_have_text(["connected"] * 2)
    ann.wait_for_function(ALL_VIDEOS_PLAY)
    expect_stats(ann, 2, "video-in")
    expect(ann.locator("#stats tr[data-stat=video-in]")).to_contain_text(["fps", "fps"])
    expect(ann.locator("#stats tr[data-stat=video-out]")).to_contain_text(["fps", "fps"])
    return ann


def phone_step5(browser, url):
    """Step 5 on a phone-sized screen: the page must fit 360 px without scrolling sideways."""
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    ann = user(browser, url, "Ann", **phone)
    user(browser, url, "Bob", **phone)
    expect(ann.locator('.remote-tile[data-peer-name="Bob"] .connection-state')).to_have_text(
        "connected"
    )
    ann.wait_for_function(ALL_VIDEOS_PLAY)
    say(ann, "Hi Bob, from my phone.")
    expect_stats(ann, 1, "video-in")
    expect(ann.locator("#stats tr[data-stat=video-out]")).to_contain_text("fps")
    return ann


def step6(browser, url):
    ann, bob, cat = users(browser, url, "Ann", "Bob", "Cat")
    for page in (ann, bob, cat):
        expect(page.locator("#server-state")).to_have_text("connected")
    say(bob, "Hello via the server!")
    expect(ann.locator("#log")).to_contain_text("Bob: Hello via the server!")
    say(cat, "One connection each, and the server forwards.")
    expect(ann.locator("#log")).to_contain_text("Cat: One connection each")
    say(ann, "I send my video once, and get two back.")
    expect(ann.locator("#connection-count")).to_have_text("1")
    expect(ann.locator("#video-count")).to_have_text("2")
    expect(ann.locator("#summary")).to_contain_text("3 in the room")
    ann.wait_for_function(ALL_VIDEOS_PLAY)
    expect(ann.locator("#stats tr[data-stat=video-in]")).to_have_count(2)
    return ann


def step7(browser, url):
    """Two pages allowing relayed candidates only, through the TURN server main() started."""
    pages = []
    for name in ("Ann", "Bob"):
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{url}/?room=demo")
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.check("#relay-only")
        page.fill("#name", name)
        page.click("#join")
        pages.append(page)
    ann, bob = pages
    for page in pages:
        expect(page.locator("#chosen-pair")).to_contain_text("relay to")
    say(bob, "Hi Ann, through the relay!")
    expect(ann.locator("#log")).to_contain_text("Bob: Hi Ann")
    expect(ann.locator("#gathering-state")).to_have_text("complete")
    expect_traffic(ann, 1)
    return ann


def step8(browser, url):
    ann, bob = users(browser, url, "Ann", "Bob")
    expect(ann.locator("#send-files")).to_be_enabled()
    files = [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"Peer to peer.\n" * 4000},
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": bytes(range(256)) * 8192},
    ]
    ann.set_input_files("#files", files=files)
    ann.click("#send-files")
    for name in ("notes.txt", "photo.jpg"):
        expect(bob.locator(f'#transfers li[data-name="{name}"]')).to_contain_text("matches")
    say(bob, "Got both, and the hashes match.")
    return bob


def step9(browser, url):
    ann, bob = users(browser, url, "Ann", "Bob")
    bob.wait_for_function(ALL_VIDEOS_PLAY)
    ann.click("#share-toggle")
    expect(ann.locator("#share-toggle")).to_have_text("Back to camera")
    # Ann's tile at Bob's takes the screen's 16:9 shape: the fake screen is 1280x720.
    bob.wait_for_function(
        "[...document.querySelectorAll('.remote-tile video')].some((v) => v.videoWidth > 320)"
    )
    say(ann, "Can you see my screen?")
    expect(bob.locator("#log")).to_contain_text("Ann: Can you see my screen?")
    expect(bob.locator("#stats tr[data-stat=video-in]")).to_contain_text(re.compile(r"\d+ fps"))
    return bob


def step10(browser, url):
    ann, bob = users(browser, url, "Ann", "Bob")
    bob.wait_for_function(ALL_VIDEOS_PLAY)
    say(ann, "Shall we record this?")
    ann.click("#record")
    expect(bob.locator("#recording-notice")).to_contain_text("Ann started recording")
    say(bob, "Fine by me: I can see the notice.")
    expect(ann.locator("#log")).to_contain_text("Bob: Fine by me")
    # The first seconds come in bursts; the shot waits for the steady rate.
    steady = re.compile(r"320x240, 1[0-6] fps")
    expect(bob.locator("#stats tr[data-stat=video-in]")).to_contain_text(steady)
    return bob


def step11_ringing(browser, url):
    ann, bob, _ = users(browser, url, "Ann", "Bob", "Cat")
    ann.locator('#users li[data-peer-name="Bob"] .call-button').click()
    expect(bob.locator("#accept")).to_be_visible()
    return bob


def step11(browser, url):
    ann, bob, cat = users(browser, url, "Ann", "Bob", "Cat")
    ann.locator('#users li[data-peer-name="Bob"] .call-button').click()
    bob.click("#accept")
    ann.wait_for_function(ALL_VIDEOS_PLAY)
    # Cat rings Ann, who is in a call: busy.
    cat.locator('#users li[data-peer-name="Ann"] .call-button').click()
    expect(cat.locator("#call-status")).to_have_text("Ann is busy.")
    expect(ann.locator('#users li[data-peer-name="Bob"] .connection-state')).to_have_text(
        "connected"
    )
    expect_stats(ann, 1, "video-in")
    expect(ann.locator("#stats tr[data-stat=video-out]")).to_contain_text(re.compile(r"\d+ fps"))
    return ann


def step12(browser, url):
    """Three in chess, one in go; Eve makes a private room: her lobby lists the two public rooms,
    and her page shows the private room's link."""
    for name, room in (("Ann", "chess"), ("Bob", "chess"), ("Cat", "chess"), ("Dan", "go")):
        expect(user(browser, url, name, f"/?room={room}").locator("#me")).to_contain_text(name)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    eve = context.new_page()
    eve.goto(url + "/")
    expect(eve.locator("#signaling-state")).to_have_text("connected")
    eve.fill("#name", "Eve")
    eve.click("#new-private")
    expect(eve.locator("#me")).to_have_text("Eve (you)")
    expect(eve.locator("#rooms .room-count")).to_have_text(["3 of 8", "1 of 8"])
    return eve


def step13(browser, url):
    """Ann, Bob and Cat: each page shows the one picture the server draws of the room, Bob muted."""
    ann, bob, cat = users(browser, url, "Ann", "Bob", "Cat")
    bob.click("#mic-toggle")
    for page in (ann, bob, cat):
        expect(page.locator("#server-state")).to_have_text("connected")
    ann.wait_for_function(ALL_VIDEOS_PLAY)
    cat.fill("#message", "Hi! Is this one picture for all of us?")
    cat.click("#send")
    expect(ann.locator("#log")).to_contain_text("Cat: Hi!")
    return ann


SHOT_TOKEN = "token-for-the-screenshots"


def page_at(browser, url):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    return page


def step14(browser, url):
    """The publisher live, and two viewers watching: the publisher's page says 2."""
    publisher = page_at(browser, f"{url}/?stream=live#token={SHOT_TOKEN}")
    publisher.click("#publish")
    expect(publisher.locator("#server-state")).to_have_text("connected")
    for _ in range(2):
        viewer = page_at(browser, f"{url}/watch.html?stream=live")
        viewer.click("#watch")
        viewer.wait_for_function(ALL_VIDEOS_PLAY)
    expect(publisher.locator("#viewer-count")).to_have_text("2")
    return publisher


def step14_watch(browser, url):
    """A viewer's page, the broadcast live."""
    step14(browser, url)
    viewer = page_at(browser, f"{url}/watch.html?stream=live")
    viewer.click("#watch")
    viewer.wait_for_function(ALL_VIDEOS_PLAY)
    expect(viewer.locator("#broadcast-state")).to_have_text("Live")
    return viewer


def step15(browser, url):
    """Ann and Bob share the link's passphrase; Cat typed another: she sees nobody, and nobody
    sees her."""
    keys = (("Ann", "otters-hold-hands"), ("Bob", "otters-hold-hands"), ("Cat", "guess"))
    ann, _, cat = [user(browser, url, name, f"/?room=demo#key={key}") for name, key in keys]
    expect(ann.locator(".remote-tile .tile-key")).to_have_text(
        ["", "cannot decrypt: different key?"]
    )
    ann.wait_for_function(
        "[...document.querySelectorAll('.remote-tile')].some((t) => t.dataset.key === 'ok' &&"
        " t.querySelector('video').videoWidth > 0)"
    )
    expect(cat.locator(".remote-tile .tile-key")).to_have_text(
        ["cannot decrypt: different key?", "cannot decrypt: different key?"]
    )
    return ann


# (image name, step whose server it needs, what makes the page to photograph)
SHOTS = [
    ("step1", 1, step1),
    ("step2", 2, step2),
    ("step3", 3, step3),
    ("step4", 4, step4),
    ("step5", 5, step5),
    ("phone-step5", 5, phone_step5),
    ("step6", 6, step6),
    ("step7", 7, step7),
    ("step8", 8, step8),
    ("step9", 9, step9),
    ("step10", 10, step10),
    ("step11-ringing", 11, step11_ringing),
    ("step11", 11, step11),
    ("step12", 12, step12),
    ("step13", 13, step13),
    ("step14", 14, step14),
    ("step14-watch", 14, step14_watch),
    ("step15", 15, step15),
]


def take(browser, logs, name, step, shoot, env):
    """One attempt at one picture, on a server of its own; the users leave afterwards."""
    server = Server(step, logs, **env.get(step, {}))
    try:
        path = IMAGES / f"{name}.png"
        shoot(browser, server.url).screenshot(path=path, full_page=True)
        return path
    finally:
        for context in browser.contexts:
            context.close()
        server.stop()


def main(argv):
    chosen = {int(a) for a in argv} or {step for _, step, _ in SHOTS}
    IMAGES.mkdir(exist_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)
    # Found before sync_playwright(): looking up Playwright's own Chromium starts one of its own.
    options = browsers.launch_options("chromium", browsers.find("chromium"))
    with tempfile.TemporaryDirectory() as logs, sync_playwright() as playwright:
        env = {10: {"RECORDINGS_DIR": logs}, 14: {"PUBLISH_TOKEN": SHOT_TOKEN}}
        if 7 in chosen:  # step 7's picture is a relayed call, through a coturn of its own
            turn = coturn.Coturn(Path(logs) / "turnserver.log")
            env[7] = {"TURN_URLS": turn.url(), "TURN_SECRET": coturn.SECRET}
        browser = playwright.chromium.launch(**options)
        for name, step, shoot in SHOTS:
            if step not in chosen:
                continue
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    path = take(browser, Path(logs), name, step, shoot, env)
                except AssertionError as error:
                    if attempt == ATTEMPTS:
                        raise
                    print(f"{name}: trying again ({str(error).splitlines()[0]})")
                else:
                    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
                    break
        browser.close()
        if 7 in chosen:
            turn.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
