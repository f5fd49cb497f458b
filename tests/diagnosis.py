"""What `make check` says first when a connection never came up: which half of the exchange is
missing, from what the pages actually did.

Every test page carries WEBRTC_TRACE (tests/conftest.py injects it; no lesson file knows): for
each RTCPeerConnection it records the descriptions set on each side, the candidates found and
added, the connection states and the data channels; and, through common/static/signaling.js,
the descriptions and candidates the page sent and received. When a test fails, conftest reads
the trace of every page the test opened (`webrtcTrace()`), and `diagnose()` turns it into one
sentence that asks about the first step of the offer/answer exchange that did not happen, in
the order a connection is made.
"""

WEBRTC_TRACE = """
(() => {
  const traces = [];
  const traceOf = new WeakMap();
  const signaling = {
    sent: {offer: 0, answer: 0, candidate: 0},
    received: {offer: 0, answer: 0, candidate: 0},
    serverPeer: false, // the offer went to the server peer (steps 6, 10, 15), its answer came back
  };
  const kindOf = (data) => data?.description?.type ?? (data?.candidate ? 'candidate' : null);
  const count = (table, data) => {
    const kind = kindOf(data);
    if (kind in table) table[kind] += 1;
  };
  // signaling.js's class is declared by a later script: wrapped once it exists.
  let signalingWrapped = false;
  const wrapSignaling = () => {
    if (signalingWrapped) return;
    let Class;
    try { Class = Signaling; } catch { return; }
    signalingWrapped = true;
    const send = Class.prototype.send;
    Class.prototype.send = function (to, data) {
      count(signaling.sent, data);
      return send.call(this, to, data);
    };
    const request = Class.prototype.request;
    Class.prototype.request = async function (event, ...payload) {
      if (event !== 'offer') return request.call(this, event, ...payload);
      signaling.serverPeer = true;
      count(signaling.sent, payload[0]);
      const ack = await request.call(this, event, ...payload);
      count(signaling.received, ack);
      return ack;
    };
    const raise = Class.prototype.raise;
    Class.prototype.raise = function (event, ...args) {
      if (event === 'signal') count(signaling.received, args[0]?.data);
      return raise.call(this, event, ...args);
    };
  };
  // Step 14 signals with plain HTTP (WHIP, WHEP): an SDP offer POSTed with fetch(), its answer
  // in a 201 reply. It counts as the server-peer exchange, as signaling.js's 'offer' request does.
  let httpSignaling = false;
  const nativeFetch = window.fetch;
  window.fetch = async function (resource, options = {}) {
    const headers = new Headers(options.headers);
    if (options.method !== 'POST' || headers.get('Content-Type') !== 'application/sdp') {
      return nativeFetch.call(this, resource, options);
    }
    httpSignaling = true;
    signaling.serverPeer = true;
    signaling.http = true;
    signaling.sent.offer += 1;
    const response = await nativeFetch.call(this, resource, options);
    if (response.status === 201) signaling.received.answer += 1;
    return response;
  };
  // Once the page's scripts have run, before any signal can arrive (and again at the first
  // connection, for a page whose scripts are still loading).
  document.addEventListener('DOMContentLoaded', wrapSignaling);
  const watchChannel = (trace, channel) => {
    channel.addEventListener('open', () => { trace.channelsOpen += 1; });
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      wrapSignaling();
      const trace = {
        local: [], remote: [], gathered: 0, added: 0, addFailed: 0, errors: [],
        states: [], channels: 0, remoteChannels: 0, channelsOpen: 0, tracks: 0,
      };
      traces.push(trace);
      traceOf.set(this, trace);
      this.addEventListener('icecandidate', ({candidate}) => {
        if (candidate) trace.gathered += 1;
      });
      this.addEventListener('connectionstatechange', () => {
        trace.states.push(this.connectionState);
      });
      this.addEventListener('datachannel', ({channel}) => {
        trace.remoteChannels += 1;
        watchChannel(trace, channel);
      });
    }
  };
  const proto = Native.prototype;
  const wrap = (name, before, after, failed) => {
    const original = proto[name];
    proto[name] = function (...args) {
      const trace = traceOf.get(this);
      if (trace && before) before(trace, this, ...args);
      const result = original.apply(this, args);
      if (trace && result instanceof Promise) {
        return result.then(
          (value) => { if (after) after(trace, this, ...args); return value; },
          (error) => {
            // A candidate may fail on purpose (perfect negotiation's ignored offer): counted only.
            if (failed) failed(trace);
            else trace.errors.push(`${name}() failed: ${error.message}`);
            throw error;
          });
      }
      if (trace && after) after(trace, this, ...args);
      return result;
    };
  };
  wrap('setLocalDescription', null, (trace, pc) => {
    trace.local.push(pc.localDescription?.type);
  });
  wrap('setRemoteDescription', null, (trace, pc, description) => {
    trace.remote.push(description?.type);
  });
  wrap('addIceCandidate', null, (trace) => { trace.added += 1; }, (trace) => {
    trace.addFailed += 1;
  });
  wrap('addTrack', (trace) => { trace.tracks += 1; });
  wrap('addTransceiver', (trace) => { trace.tracks += 1; });
  const createDataChannel = proto.createDataChannel;
  proto.createDataChannel = function (...args) {
    const channel = createDataChannel.apply(this, args);
    const trace = traceOf.get(this);
    if (trace) {
      trace.channels += 1;
      watchChannel(trace, channel);
    }
    return channel;
  };
  window.webrtcTrace = () => ({
    name: document.querySelector('#name')?.value || document.title,
    signaling: signalingWrapped || httpSignaling ? signaling : null,
    connections: traces,
  });
})();
"""


def diagnose(pages):
    """One sentence on why no connection came up, from the traces of the test's pages (each as
    webrtcTrace() gave it), or None when every connection reached `connected` or the traces do
    not say."""
    pages = [page for page in pages if page]
    if not pages:
        return None
    connections = [(page["name"], pc) for page in pages for pc in page["connections"]]
    if not connections:
        return (
            "no page made an RTCPeerConnection, so nothing could connect: does joining, or a "
            "click, lead to the code that creates one (createConnection())?"
        )
    for name, pc in connections:
        if pc["errors"]:
            return f"on {whose(name)}, {pc['errors'][0]}"
    up = all("connected" in pc["states"] for _, pc in connections)
    if up:
        return channels_not_open(connections)
    return first_missing_half(pages, connections)


def whose(name):
    """ "Ann's page", or for a page without a name box (step 14's), "the page “<its title>”"."""
    return f"the page “{name}”" if " · " in name else f"{name}'s page"


def first_missing_half(pages, connections):
    def made(kind):
        return [name for name, pc in connections if kind in pc["local"]]

    def set_remote(kind):
        return [name for name, pc in connections if kind in pc["remote"]]

    def signaled(page, way, kind):
        return (page["signaling"] or {}).get(way, {}).get(kind, 0)

    with_signaling = [page for page in pages if page["signaling"] is not None]
    server_peer = any(page["signaling"]["serverPeer"] for page in with_signaling)
    offers = made("offer")
    if not offers:
        return (
            "no page made an offer: setLocalDescription() was never called. It belongs in the "
            "negotiationneeded handler (negotiate()), which fires once the connection has "
            "something to agree on: a data channel or a track."
        )
    for page in with_signaling:
        if page["name"] in offers and signaled(page, "sent", "offer") == 0:
            return (
                f"{whose(page['name'])} made an offer but never sent it: after "
                "setLocalDescription(), send {description: pc.localDescription} through signaling."
            )
    if server_peer:
        return server_peer_half(with_signaling, set_remote)
    if with_signaling and not any(signaled(p, "received", "offer") for p in with_signaling):
        return "an offer was sent, but no page received one: is it sent to the other member's id?"
    # An answer that came back means its offer was set, so this comes first: an offerer left
    # waiting for its answer ignores the offers that follow (perfect negotiation).
    for page in with_signaling:
        if signaled(page, "received", "answer") and page["name"] not in set_remote("answer"):
            return (
                f"{whose(page['name'])} received the answer but never set it: "
                "setRemoteDescription(description) for an answer too."
            )
    for page in with_signaling:
        if signaled(page, "received", "offer") and page["name"] not in set_remote("offer"):
            return (
                f"{whose(page['name'])} received an offer but never set it: "
                "setRemoteDescription(description) when a signal carries a description."
            )
    answers = made("answer")
    if not answers:
        return (
            "the offer was set, but no answer was made: after setRemoteDescription(offer), "
            "setLocalDescription() makes the answer."
        )
    for page in with_signaling:
        if page["name"] in answers and signaled(page, "sent", "answer") == 0:
            return (
                f"{whose(page['name'])} made an answer but never sent it: send "
                "{description: pc.localDescription} back through signaling."
            )
    for page in with_signaling:
        gathered = sum(pc["gathered"] for name, pc in connections if name == page["name"])
        if gathered and signaled(page, "sent", "candidate") == 0:
            return (
                f"{whose(page['name'])} found {gathered} ICE candidates but sent none: "
                "pc.onicecandidate should send each {candidate} through signaling."
            )
    for page in with_signaling:
        received = signaled(page, "received", "candidate")
        added = sum(pc["added"] for name, pc in connections if name == page["name"])
        if received and not added:
            return (
                f"{whose(page['name'])} received {received} ICE candidates but added none: "
                "addIceCandidate(candidate) when a signal carries a candidate."
            )
    if not with_signaling and made("answer"):
        waiting = [pc for _, pc in connections if "offer" in pc["local"] and not pc["remote"]]
        if waiting:
            return (
                "an answer was made, but the connection that made the offer never set it: "
                "setRemoteDescription() with the other connection's answer."
            )
    gathered = any(pc["gathered"] for _, pc in connections)
    if not with_signaling and gathered and not any(pc["added"] for _, pc in connections):
        return (
            "ICE candidates were found but none was added: each one found by a connection "
            "goes to addIceCandidate() of the other."
        )
    if any("failed" in pc["states"] for _, pc in connections):
        return (
            "offer, answer and candidates went both ways, yet ICE found no working pair "
            "(connectionState failed): are the candidates added to the right connection?"
        )
    return None


def server_peer_half(pages, set_remote):
    """The page offers to the server peer and sets the answer its acknowledgement carries."""
    for page in pages:
        received = page["signaling"]["received"]["answer"]
        if received and page["name"] not in set_remote("answer") and page["signaling"].get("http"):
            return (
                f"{whose(page['name'])} got the server's answer, the body of the 201 reply to its "
                "POST, but never set it: setRemoteDescription({type: 'answer', sdp: answer})."
            )
        if received and page["name"] not in set_remote("answer"):
            return (
                f"{whose(page['name'])} got the server's answer but never set it: "
                "setRemoteDescription(answer) with the description the 'offer' request returns."
            )
    return None


def channels_not_open(connections):
    for name, pc in connections:
        if pc["channelsOpen"] == 0 and (pc["channels"] or pc["remoteChannels"]):
            return (
                f"the connections came up, but a data channel on {whose(name)} never opened: "
                "created on one side only, or with different negotiated ids on the two sides?"
            )
    return None
