"""Step 7: across networks. Real browsers, a real coturn (tests/coturn.py) serving STUN and TURN,
and the signaling server handing out TURN credentials of each member's own (common/ice.py):
every candidate is shown with its type as ICE finds it, relay-only calls go through the relay on
both sides (over UDP and over TCP), and wrong or expired credentials fail with a clear message.
An independent TURN client (aioice) checks that the credentials expire as configured."""

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from playwright.sync_api import expect

from common.ice import turn_credentials
from tests.coturn import RELAY_PORTS, SECRET, SELECTED_PAIR, expect_relayed_both_ways
from tests.signaling_client import Member

STEP = 7


def ice_settings(turn_server, transport="udp", secret=SECRET, **extra):
    return {
        "STUN_URLS": turn_server.url(None, "stun"),
        "TURN_URLS": turn_server.url(transport),
        "TURN_SECRET": secret,
        **extra,
    }


def join(new_page, server, room, name, relay_only=False, extra="", **options):
    page = new_page(f"{server.url}/?room={room}{extra}", **options)
    expect(page.locator("#signaling-state")).to_have_text("connected")
    if relay_only:
        page.check("#relay-only")
    page.fill("#name", name)
    page.click("#join")
    expect(page.locator("#leave")).to_be_enabled()
    return page


def candidates(page, side, kind=None):
    selector = f"#candidates tr[data-side={side}]" + (f"[data-type={kind}]" if kind else "")
    return page.locator(selector)


def expect_chat(sender, receiver, text):
    sender.fill("#message", text)
    sender.click("#send")
    expect(receiver.locator("#log")).to_contain_text(f": {text}")


# An independent record of what ICE gathered on a page, whatever its main.js does with it:
# `gathered`, one "type protocol address:port" per candidate.
RECORD_GATHERED = """
(() => {
  window.gathered = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('icecandidate', ({candidate: c}) => c?.candidate &&
        window.gathered.push(`${c.type} ${c.protocol} ${c.address}:${c.port}`));
    }
  };
})();
"""


def shown(page, side):
    """The candidates the page's table shows for `side`, as RECORD_GATHERED writes them."""
    return sorted(
        page.locator(f"#candidates tr[data-side={side}]").evaluate_all(
            "rows => rows.map((r) => `${r.dataset.type} ${r.cells[2].textContent}`)"
        )
    )


@pytest.mark.browser
def test_every_candidate_shows_with_its_type_and_the_chosen_pair_is_marked(
    turn_server, start_server, new_page, room
):
    server = start_server(STEP, **ice_settings(turn_server))
    ann, bob = (
        join(new_page, server, room, name, init_script=RECORD_GATHERED) for name in ("Ann", "Bob")
    )
    for page in (ann, bob):
        log = page.locator("#log")
        expect(log).to_contain_text(f"ICE server: {turn_server.url(None, 'stun')}.")
        expect(log).to_contain_text(f"ICE server: {turn_server.url()}, credentials valid until")
        expect(page.locator("#connection-state")).to_have_text("connected")
        expect(page.locator("#gathering-state")).to_have_text("complete")
        expect(candidates(page, "ours", "host").first).to_contain_text("an address of the machine")
    # Each page shows every candidate ICE gathered, with its type, and every one the other page
    # signalled. (Whether a relay or srflx candidate is among them depends on the browser:
    # Chromium stops gathering once a direct pair works. The relay-only test makes sure of it.)
    for page, other in ((ann, bob), (bob, ann)):
        assert shown(page, "ours") == sorted(page.evaluate("gathered"))
        expect(candidates(page, "theirs")).to_have_count(len(other.evaluate("gathered")))
        assert shown(page, "theirs") == sorted(other.evaluate("gathered"))
    for page in (ann, bob):
        # The page names the pair getStats() says was chosen, and marks our end of it.
        local, remote, _ = page.evaluate(SELECTED_PAIR)
        expect(page.locator("#chosen-pair")).to_have_text(f"{local} to {remote}")
        chosen = page.locator(f"#candidates tr.chosen[data-side=ours][data-type={local}]")
        expect(chosen).to_have_count(1)
        expect(page.locator("#log")).to_contain_text(f"ICE chose {local} (ours) to {remote}")
        # With a direct path at hand, ICE prefers it to the relay.
        assert local != "relay"
    expect_chat(ann, bob, "hello over the best path")


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_relay_only_connects_through_the_relay_on_both_sides(
    turn_server, start_server, new_page, room, transport
):
    server = start_server(STEP, **ice_settings(turn_server, transport))
    ann = join(new_page, server, room, "Ann", relay_only=True)
    bob = join(new_page, server, room, "Bob", relay_only=True)
    for page in (ann, bob):
        expect(page.locator("#connection-state")).to_have_text("connected")
        expect_relayed_both_ways(page)
        expect(page.locator("#chosen-pair")).to_contain_text("relay to ")
        # Relay-only: ICE gathered nothing but relay candidates. Gathering ends once every ICE
        # server has answered, which Firefox on a busy 2-core machine once took over 5 s to say.
        expect(page.locator("#gathering-state")).to_have_text("complete", timeout=20_000)
        expect(candidates(page, "ours", "relay").first).to_be_visible()
        expect(page.locator("#candidates tr[data-side=ours]:not([data-type=relay])")).to_have_count(
            0
        )
        # The page reaches the TURN server over the transport its URL names.
        expect(page.locator("#stats tr[data-stat=local-candidate]")).to_contain_text(
            f"to the TURN server over {transport}"
        )
    expect_chat(ann, bob, f"relayed over {transport}")
    expect_chat(bob, ann, "and back")


@pytest.mark.browser
def test_wrong_credentials_fail_with_a_clear_message(turn_server, start_server, new_page, room):
    server = start_server(STEP, **ice_settings(turn_server, secret="not-the-secret"))
    pages = [
        join(new_page, server, room, name, relay_only=True, extra="&iceTimeout=2000")
        for name in ("Ann", "Bob")
    ]
    for page, other in zip(pages, ("Bob", "Ann"), strict=True):
        log = page.locator("#log")
        # Firefox names the URL without its ?transport=udp.
        expect(log).to_contain_text(
            re.compile(rf"turn:127.0.0.1:{turn_server.port}\S* answered 401")
        )
        expect(log).to_contain_text("the TURN server refused our credentials")
        expect(log).to_contain_text(f"Could not connect to {other}, even after an ICE restart")
        expect(page.locator("#connection-state")).to_have_text("failed")
        expect(candidates(page, "ours")).to_have_count(0)


@pytest.mark.browser
def test_relay_only_without_a_turn_server_restarts_ice_then_says_which_setting_to_change(
    start_server, new_page, room
):
    server = start_server(STEP)  # no STUN_URLS or TURN_URLS: no relay to be had
    pages = [
        join(new_page, server, room, name, relay_only=True, extra="&iceTimeout=1000")
        for name in ("Ann", "Bob")
    ]
    ann, bob = pages
    # ICE has no candidate at all, so it can never connect. Bob made the offer, so Bob restarts
    # ICE; Ann says she waits for it.
    expect(bob.locator("#log")).to_contain_text("No connection to Ann yet: restarting ICE…")
    expect(ann.locator("#log")).to_contain_text("waiting for Bob to restart ICE")
    for page, other in zip(pages, ("Bob", "Ann"), strict=True):
        failure = page.locator("#log li.error", has_text=f"Could not connect to {other}")
        expect(failure).to_contain_text("even after an ICE restart")
        expect(failure).to_contain_text(
            'relayed candidates only (the "Relayed candidates only" box)'
        )
        expect(failure).to_contain_text("make turn")
        expect(failure).not_to_contain_text("?relay=1")
        expect(page.locator("#connection-state")).to_have_text("failed")
        # The other member is still in the room, and still shown as the peer.
        expect(page.locator("#peer-name")).to_have_text(other)
        assert page.evaluate("openPeerConnections().length") == 0


@pytest.mark.browser
def test_expired_credentials_fail_with_a_clear_message(turn_server, start_server, new_page, room):
    ttl = 3
    server = start_server(STEP, **ice_settings(turn_server, TURN_TTL=ttl))
    ann = join(new_page, server, room, "Ann", relay_only=True, extra="&iceTimeout=2000")
    # Ann's credentials were made when she joined, valid for `ttl` seconds: wait until they are
    # past, by the page's own clock, before anyone calls her.
    expired = (time.time() + ttl + 1) * 1000
    ann.wait_for_function(f"Date.now() > {expired}", timeout=(ttl + 5) * 1000)
    bob = join(new_page, server, room, "Bob", relay_only=True, extra="&iceTimeout=2000")
    ann_log = ann.locator("#log")
    expect(ann_log).to_contain_text("answered 401")
    expect(ann_log).to_contain_text("our TURN credentials expired at")
    expect(ann_log).to_contain_text("Leave and join again for new ones.")
    # Bob's credentials are fresh: he gathers his relay candidates, but has no one to reach.
    expect(candidates(bob, "ours", "relay").first).to_be_visible()
    expect(bob.locator("#log")).not_to_contain_text("answered 401")
    expect(ann_log).to_contain_text("Could not connect to Bob")


def allocate(username, password, port):
    """Allocates a relay on the TURN server at `port` with these credentials, as a browser
    would: the relayed (address, port), or the STUN error code."""

    async def attempt():
        try:
            transport, _ = await create_turn_endpoint(
                asyncio.DatagramProtocol, ("127.0.0.1", port), username, password
            )
        except stun.TransactionFailed as failure:
            return failure.response.attributes["ERROR-CODE"][0]
        relayed = transport.get_extra_info("sockname")
        transport.close()
        return relayed

    # In a thread of its own: the browser tests' event loop runs in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, attempt()).result()


def test_credentials_expire_as_configured(turn_server, start_server):
    ttl = 120
    server = start_server(STEP, **ice_settings(turn_server, TURN_TTL=ttl))
    member = Member(server.url)
    try:
        before = time.time()
        ack = member.join("expiry", "Ann")
    finally:
        member.close()
    stun_server, turn = ack["iceServers"]
    assert stun_server == {"urls": [turn_server.url(None, "stun")]}
    expiry, member_id = turn["username"].split(":")
    assert (member_id, turn["urls"]) == (ack["id"], [turn_server.url()])
    assert before + ttl - 1 <= int(expiry) <= time.time() + ttl
    # The secret stays on the server: the ack holds only what was made from it.
    assert SECRET not in str(ack)
    # The TURN server accepts them now...
    _, relayed_port = allocate(turn["username"], turn["credential"], turn_server.port)
    assert RELAY_PORTS[0] <= relayed_port <= RELAY_PORTS[1]
    # ...and refuses the same scheme once the expiry has passed, or made with another secret.
    expired = turn_credentials(SECRET, member_id, ttl=-1)
    assert allocate(*expired, turn_server.port) == 401
    assert allocate(*turn_credentials("another-secret", member_id, ttl), turn_server.port) == 401


@pytest.mark.browser
def test_across_browsers_relay_only_goes_through_the_relay_both_ways(
    turn_server, start_server, new_page, browser, other_browser, room
):
    server = start_server(STEP, **ice_settings(turn_server))
    ann = join(new_page, server, room, "Ann", relay_only=True)
    bob = join(new_page, server, room, "Bob", relay_only=True, in_browser=other_browser)
    for page in (ann, bob):
        expect(page.locator("#connection-state")).to_have_text("connected")
        expect_relayed_both_ways(page)
        expect(candidates(page, "theirs", "relay").first).to_be_visible()
    expect_chat(ann, bob, "from one browser")
    expect_chat(bob, ann, "to the other")
