"""Step 1 in real browsers: two peer connections in one page, a data channel between them."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def page(start_server, new_page):
    return new_page(start_server(1).url)


def send(page, side, text):
    page.fill(f"#input-{side}", text)
    page.click(f"#send-{side}")


def test_handshake_connects_both_peers_and_shows_the_sdp(page):
    page.click("#start")

    expect(page.locator("#state-a")).to_have_text("connected")
    expect(page.locator("#state-b")).to_have_text("connected")
    offer = page.input_value("#offer-sdp")
    answer = page.input_value("#answer-sdp")
    for sdp in (offer, answer):
        assert sdp.splitlines()[0] == "v=0"  # a textarea shows CRLF as LF
        assert "m=application" in sdp and "webrtc-datachannel" in sdp
        assert "a=fingerprint:sha-256" in sdp
    assert offer != answer
    expect(page.locator("#candidates li", has_text="candidate:").first).to_be_visible()


def test_messages_cross_the_data_channel_both_ways(page):
    page.click("#start")
    expect(page.locator("#send-a")).to_be_enabled()
    expect(page.locator("#send-b")).to_be_enabled()

    send(page, "a", "hello from A")
    expect(page.locator("#log-b")).to_contain_text("received: hello from A")
    send(page, "b", "hello back from B")
    expect(page.locator("#log-a")).to_contain_text("received: hello back from B")
    expect(page.locator("#log-a")).not_to_contain_text("received: hello from A")
    send(page, "a", "  ")  # blank: not sent
    send(page, "a", "after the blank one")
    expect(page.locator("#log-b li.received")).to_have_text(
        ["received: hello from A", "received: after the blank one"]
    )


def test_a_message_too_big_for_the_other_side_says_how_much_fits(page):
    """What fits in one message is the other side's a=max-message-size (Chromium 256 KiB; Firefox
    1 GiB, too big to paste): one byte over is refused, and the pane says both sizes."""
    page.click("#start")
    expect(page.locator("#send-a")).to_be_enabled()
    fits = page.evaluate("openPeerConnections()[0].sctp.maxMessageSize")  # A's, made first
    if fits > 10_000_000:  # Firefox: a 300 000-character message goes through whole
        send(page, "a", "x" * 300_000)
        expect(page.locator("#log-b li.received")).to_have_count(1)
        assert len(page.locator("#log-b li.received").text_content()) == len("received: ") + 300_000
        return
    page.evaluate(
        "size => { document.querySelector('#input-a').value = 'x'.repeat(size); }", fits + 1
    )
    page.click("#send-a")
    expect(page.locator("#log-a li.error")).to_contain_text(
        f"Could not send {fits + 1} bytes (at most {fits} fit in one message)"
    )
    expect(page.locator("#log-b li.received")).to_have_count(0)
    send(page, "a", "a short one still goes")  # the channel is still open
    expect(page.locator("#log-b")).to_contain_text("received: a short one still goes")


def test_hang_up_closes_both_sides_and_start_works_again(page):
    page.click("#start")
    expect(page.locator("#state-a")).to_have_text("connected")

    page.click("#hangup")
    expect(page.locator("#state-a")).to_have_text("closed")
    expect(page.locator("#state-b")).to_have_text("closed")
    expect(page.locator("#send-a")).to_be_disabled()

    page.click("#start")
    expect(page.locator("#state-b")).to_have_text("connected")
    send(page, "b", "second call")
    expect(page.locator("#log-a")).to_contain_text("received: second call")
