"""Step 4 in real browsers: a group chat where every user connects to every other (a full mesh)."""

import pytest
from playwright.sync_api import expect

from step4_group_chat import server as step4_server

HOSTILE = "<img src=x onerror=pwned=1>"


@pytest.fixture
def step4(start_server):
    return start_server(4)


@pytest.fixture
def join(step4, room, new_page):
    """join(name, in_browser=None) -> a page that has asked to join the test's room under that
    name."""

    def join_as(name, in_browser=None):
        page = new_page(f"{step4.url}/?room={room}", in_browser=in_browser)
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        return page

    return join_as


@pytest.fixture
def mesh(join):
    """Four users, each connected to the three others: {name: page}."""
    users = {name: join(name) for name in ("Ann", "Bob", "Cat", "Dan")}
    for page in users.values():
        expect_mesh(page, 3)
    return users


def expect_mesh(page, peers):
    """The page shows `peers` connections and open channels, and really holds that many."""
    expect(page.locator("#connection-count")).to_have_text(str(peers))
    expect(page.locator("#channel-count")).to_have_text(str(peers))
    expect(page.locator("#users li")).to_have_count(peers)
    assert page.evaluate("openPeerConnections().length") == peers


def chat(page, text):
    expect(page.locator("#send")).to_be_enabled()
    page.fill("#message", text)
    page.click("#send")


def expect_received(page, line):
    expect(page.locator("#log li.received", has_text=line)).to_have_count(1)


@pytest.mark.browser
def test_four_users_form_a_full_mesh_and_everyone_hears_everyone_once(mesh):
    for user, page in mesh.items():
        expect(page.locator("#mesh-summary")).to_contain_text("6 in the whole mesh")
        others = [other for other in mesh if other != user]
        expect(page.locator("#users li .name")).to_have_text(others)
        expect(page.locator("#me")).to_have_text(f"{user} (you)")

    for rounds in ("hello", "bye"):
        for sender, page in mesh.items():
            chat(page, f"{rounds} from {sender}")
            for receiver, other in mesh.items():
                if receiver != sender:
                    expect_received(other, f"{sender}: {rounds} from {sender}")

    # A channel delivers in order, so any copy of a hello would have arrived before the bye.
    for user, page in mesh.items():
        others = [name for name in mesh if name != user]
        expect(page.locator("#log li.received")).to_have_text(
            [f"{name}: hello from {name}" for name in others]
            + [f"{name}: bye from {name}" for name in others]
        )
        expect(page.locator("#log li.sent")).to_have_text(
            [f"You: hello from {user}", f"You: bye from {user}"]
        )


@pytest.mark.browser
def test_a_late_joiner_connects_to_everyone_and_chats_both_ways(mesh, join):
    eve = join("Eve")
    expect(eve.locator("#log")).to_contain_text("Calling the 4 already here")
    expect_mesh(eve, 4)
    for page in mesh.values():
        expect(page.locator("#log")).to_contain_text("Eve joined")
        expect_mesh(page, 4)
    expect(eve.locator("#mesh-summary")).to_contain_text("10 in the whole mesh")

    chat(eve, "hi all, Eve here")
    for page in mesh.values():
        expect_received(page, "Eve: hi all, Eve here")
    chat(mesh["Bob"], "welcome Eve")
    expect_received(eve, "Bob: welcome Eve")
    for name in ("Ann", "Cat", "Dan"):
        expect_received(mesh[name], "Bob: welcome Eve")


@pytest.mark.browser
def test_a_leaver_is_dropped_on_every_side(mesh):
    mesh["Dan"].click("#leave")
    expect(mesh["Dan"].locator("#connection-count")).to_have_text("0")
    expect(mesh["Dan"].locator("#join")).to_be_enabled()
    expect(mesh["Dan"].locator("#send")).to_be_disabled()
    assert mesh["Dan"].evaluate("openPeerConnections().length") == 0
    for name in ("Ann", "Bob", "Cat"):
        expect(mesh[name].locator("#log")).to_contain_text("Dan left.")
        expect_mesh(mesh[name], 2)
        expect(mesh[name].locator("#users")).not_to_contain_text("Dan")

    # Closing the tab is a leave too.
    mesh["Cat"].context.close()
    for name in ("Ann", "Bob"):
        expect(mesh[name].locator("#log")).to_contain_text("Cat left.")
        expect_mesh(mesh[name], 1)
    chat(mesh["Ann"], "just us now")
    expect_received(mesh["Bob"], "Ann: just us now")


@pytest.mark.browser
def test_two_people_make_a_mesh_of_one_and_blank_messages_stay_home(join):
    ann, bob = join("Ann"), join("Bob")
    expect_mesh(ann, 1)
    expect(ann.locator("#mesh-summary")).to_have_text(
        "2 in the room: 1 connection per person, 1 in the whole mesh."
    )
    chat(ann, " \t ")
    chat(ann, "a real one")
    expect(bob.locator("#log li.received")).to_have_text(["Ann: a real one"])
    expect(ann.locator("#log li.sent")).to_have_text(["You: a real one"])


@pytest.mark.browser
def test_hostile_names_and_messages_show_as_text_and_run_nothing(join):
    ann = join("Ann")
    mallory = join(HOSTILE)
    expect_mesh(ann, 1)
    expect_mesh(mallory, 1)

    chat(mallory, HOSTILE)
    expect(ann.locator("#log li.received")).to_have_text([f"{HOSTILE}: {HOSTILE}"])
    expect(ann.locator("#users li .name")).to_have_text([HOSTILE])
    expect(ann.locator("#log")).to_contain_text(f"{HOSTILE} joined")
    expect(mallory.locator("#log li.sent")).to_have_text([f"You: {HOSTILE}"])
    expect(mallory.locator("#me")).to_have_text(f"{HOSTILE} (you)")
    for page in (ann, mallory):
        assert page.locator("img").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"


@pytest.mark.browser
def test_a_full_room_is_refused_with_a_clear_message(start_server, room, new_page):
    # A cap of 2 shows the refusal with three pages instead of nine.
    server = start_server(4, MAX_ROOM_SIZE=2)
    pages = []
    for name in ("Ann", "Bob", "Cat"):
        page = new_page(f"{server.url}/?room={room}")
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        pages.append(page)
    ann, bob, cat = pages
    expect_mesh(ann, 1)
    expect(cat.locator("#join-error")).to_contain_text("The room is full")
    expect(cat.locator("#join")).to_be_enabled()
    assert cat.evaluate("openPeerConnections().length") == 0
    expect_mesh(bob, 1)


def test_the_room_cap_suits_a_text_mesh(monkeypatch):
    monkeypatch.delenv("MAX_ROOM_SIZE", raising=False)
    assert step4_server.ROOM_CAPACITY == 8
    app, socketio = step4_server.create()
    assert socketio is not None
    assert app.extensions["rooms"].capacity == 8


def test_the_mesh_survives_a_signaling_restart_and_takes_a_newcomer(new_page, own_server, room):
    server = own_server(4)
    pages = {}
    for name in ("Ann", "Bob", "Cat"):
        pages[name] = new_page(f"{server.url}/?room={room}")
        pages[name].fill("#name", name)
        pages[name].click("#join")
    for page in pages.values():
        expect(page.locator("#channel-count")).to_have_text("2")

    server.stop()
    for page in pages.values():
        expect(page.locator("#signaling-state")).to_have_text("reconnecting")
    server.start()
    for page in pages.values():
        expect(page.locator("#log")).to_contain_text("rejoined the room", timeout=20000)
    for page in pages.values():
        expect(page.locator("#channel-count")).to_have_text("2")
        assert page.evaluate("openPeerConnections().length") == 2

    dan = new_page(f"{server.url}/?room={room}")
    dan.fill("#name", "Dan")
    dan.click("#join")
    for page in [*pages.values(), dan]:
        expect(page.locator("#channel-count")).to_have_text("3")
    dan.fill("#message", "hi all, after the restart")
    dan.click("#send")
    for page in pages.values():
        expect(page.locator("#log")).to_contain_text("Dan: hi all, after the restart")
    pages["Ann"].click("#leave")
    for page in (pages["Bob"], pages["Cat"], dan):
        expect(page.locator("#channel-count")).to_have_text("2")


class CutSocket:
    """Routes a page's socket.io WebSocket through the test, which can cut the page off: the page
    side closes, while the server keeps the old connection until its ping timeout. That is a
    network cut, not a server restart: the others hear the page leave, and it comes back as a
    newcomer under the same name."""

    def __init__(self):
        self.page_sides = []

    def route(self, websocket):
        websocket.connect_to_server()
        self.page_sides.append(websocket)

    def cut(self):
        self.page_sides[-1].close()


@pytest.mark.browser
def test_a_page_cut_off_from_signaling_comes_back_and_the_mesh_heals(new_page, own_server, room):
    # A short ping, so that the server notices the cut page within seconds.
    server = own_server(4, PING_INTERVAL=1, PING_TIMEOUT=1)
    cut = CutSocket()
    pages = {}
    for name in ("Ann", "Bob", "Cat"):
        route = cut.route if name == "Cat" else None
        page = new_page(f"{server.url}/?room={room}", route_socket=route)
        expect(page.locator("#signaling-state")).to_have_text("connected")
        page.fill("#name", name)
        page.click("#join")
        pages[name] = page
    for page in pages.values():
        expect_mesh(page, 2)
    pages["Cat"].wait_for_function("signaling.socket.io.engine.transport.name === 'websocket'")

    cut.cut()
    for name in ("Ann", "Bob"):
        expect(pages[name].locator("#log")).to_contain_text("Cat left.", timeout=20_000)
        expect(pages[name].locator("#log li", has_text="Cat joined")).to_have_count(2)
    expect(pages["Cat"].locator("#log")).to_contain_text("rejoined the room", timeout=20_000)
    # Cat came back as a newcomer: it called both, and both answered. The mesh is whole again.
    for page in pages.values():
        expect_mesh(page, 2)
    chat(pages["Cat"], "back from the cut")
    for name in ("Ann", "Bob"):
        expect_received(pages[name], "Cat: back from the cut")
    chat(pages["Ann"], "welcome back")
    expect_received(pages["Cat"], "Ann: welcome back")
    for page in pages.values():
        page.context.close()


@pytest.mark.browser
def test_across_browsers_a_mixed_mesh_chats_and_drops_a_leaver(join, other_browser):
    # Each newcomer calls everyone there: Bob (the other browser) calls Ann, Cat calls Ann and
    # Bob, so offers cross between the browsers both ways in each run.
    users = {"Ann": join("Ann"), "Bob": join("Bob", in_browser=other_browser), "Cat": join("Cat")}
    for page in users.values():
        expect_mesh(page, 2)
    for sender, page in users.items():
        chat(page, f"hi from {sender}")
        for receiver, other in users.items():
            if receiver != sender:
                expect_received(other, f"{sender}: hi from {sender}")

    users["Bob"].click("#leave")
    for name in ("Ann", "Cat"):
        expect_mesh(users[name], 1)
        expect(users[name].locator("#log")).to_contain_text("Bob left")
