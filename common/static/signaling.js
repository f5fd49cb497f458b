'use strict';

// The browser side of the signaling contract (docs/signaling-contract.md), shared by steps 2 to 12.
// It is plumbing: it turns socket.io acknowledgements into promises, and it rejoins the room by
// itself when the server comes back after a restart, so that the lesson code in main.js never has
// to know there was an outage:
//   - a member who comes back under a new id keeps, on this page, the id the page knew
//     (names are unique in a room, so the name says who it is);
//   - a member who does not come back within REJOIN_GRACE_MS gets a 'peer-left';
//   - members the page did not know yet (they joined while we were away) come in a 'rejoined'
//     event, shaped like a join's acknowledgement: {id, peers, iceServers}.
// Peer connections that are up do not need the server, so calls go on through all of this.
// If instead the server itself went on and dropped us (a network cut), the others were told we
// left: then the page hears 'peer-left' for everyone, and everyone comes back in 'rejoined'.

const SIGNALING_TIMEOUT_MS = 10000;
const REJOIN_ATTEMPTS = 5;
const REJOIN_GRACE_MS = 15000;

class SignalingError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
  }
}

class Signaling {
  constructor() {
    // The page and the signaling server share one origin, so io() needs no URL.
    this.socket = io();
    this.handlers = new Map();
    this.membership = null; // {room, name} while joined, to rejoin after a reconnect
    this.members = new Map(); // the page's id of each other member -> {name, serverId, away}
    this.joining = false; // a join waits for its ack
    this.early = []; // signals that came meanwhile
    this.socket.on('connect', () => this.rejoin());
    this.socket.on('peer-joined', (member) => this.onPeerJoined(member));
    this.socket.on('peer-left', ({id}) => this.forget(this.pageId(id)));
    this.socket.on('signal', (message) => this.onSignal(message));
    for (const event of ['connect', 'disconnect']) {
      this.socket.on(event, (...args) => this.raise(event, ...args));
    }
    // Any other event from the server (step 12's 'lobby') goes to the page as it comes.
    this.socket.onAny((event, ...args) => {
      if (!['peer-joined', 'peer-left', 'signal'].includes(event)) {
        this.raise(event, ...args);
      }
    });
  }

  // 'peer-joined', 'peer-left', 'signal' (from the server), 'rejoined', 'rejoin-failed',
  // socket.io's own 'connect' and 'disconnect', and any other event the server sends.
  on(event, handler) {
    if (!this.handlers.has(event)) {
      this.handlers.set(event, []);
    }
    this.handlers.get(event).push(handler);
  }

  // After a 'disconnect': whether socket.io keeps trying to reconnect (it does unless the server
  // closed the connection on purpose).
  get reconnecting() {
    return this.socket.active;
  }

  // Whether this page is in a room: from the join's ack to leave().
  get joined() {
    return this.membership !== null;
  }

  async join(room, name) {
    const ack = await this.whileJoining(this.request('join', {room, name}));
    this.membership = {room, name};
    this.clearMembers();
    ack.peers.forEach((member) => this.remember(member));
    return ack;
  }

  send(to, data) {
    return this.request('signal', {to: this.members.get(to)?.serverId ?? to, data});
  }

  // Leaving cannot fail: a server we cannot reach has dropped us, or will.
  async leave() {
    this.membership = null;
    this.clearMembers();
    await this.request('leave').catch(() => {});
  }

  async request(event, ...payload) {
    const ack = await this.socket.timeout(SIGNALING_TIMEOUT_MS).emitWithAck(event, ...payload);
    if (!ack.ok) {
      throw new SignalingError(ack.error);
    }
    return ack;
  }

  // After a server restart or a network cut the server no longer knows us: join again under the
  // same name (the server gives us a new id).
  async rejoin() {
    const membership = this.membership;
    // Until it works, or the page leaves (or joins elsewhere) meanwhile.
    for (let attempt = 1; membership && this.membership === membership; attempt++) {
      try {
        this.onRejoined(await this.whileJoining(this.request('join', membership)), attempt > 1);
        return;
      } catch (error) {
        // name-taken: the server has not yet noticed that our old connection is gone.
        if (error.code !== 'name-taken' || attempt === REJOIN_ATTEMPTS) {
          this.membership = null;
          this.clearMembers();
          this.raise('rejoin-failed', error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      }
    }
  }

  onRejoined(ack, nameWasTaken) {
    // After a restart every id is new. Someone still under the id we knew, or our own name still
    // taken, means the server went on without us and announced that we left.
    if (nameWasTaken || ack.peers.some(({id}) => this.serverIds().includes(id))) {
      [...this.members.keys()].forEach((id) => this.forget(id));
    }
    const present = new Set(ack.peers.map((member) => member.name));
    for (const [id, member] of this.members) {
      if (!present.has(member.name)) {
        this.waitForReturn(id, member);
      }
    }
    const unknown = ack.peers.filter((member) => !this.comeBack(member));
    unknown.forEach((member) => this.remember(member));
    this.raise('rejoined', {...ack, peers: unknown});
  }

  onSignal({from, data}) {
    if (this.joining) {
      this.early.push({from, data});
      return;
    }
    this.raise('signal', {from: this.pageId(from), data});
  }

  // A member told of our arrival may signal us (step 11 says it is in a call) before our join's
  // ack is here, and the page learns who the members are from that ack. So signals that come
  // while a join waits are passed on just after the page has read the ack.
  async whileJoining(joining) {
    this.joining = true;
    try {
      return await joining;
    } finally {
      this.joining = false;
      setTimeout(() => this.early.splice(0).forEach((message) => this.onSignal(message)));
    }
  }

  onPeerJoined(member) {
    if (!this.comeBack(member)) {
      this.remember(member);
      this.raise('peer-joined', member);
    }
  }

  // A member we knew, back under a new id: only the id the server uses changes.
  comeBack({id, name}) {
    for (const member of this.members.values()) {
      if (member.name === name) {
        clearTimeout(member.away);
        member.away = null;
        member.serverId = id;
        return true;
      }
    }
    return false;
  }

  waitForReturn(id, member) {
    clearTimeout(member.away);
    member.away = setTimeout(() => this.forget(id), REJOIN_GRACE_MS);
  }

  remember({id, name}) {
    this.members.set(id, {name, serverId: id, away: null});
  }

  forget(id) {
    const member = this.members.get(id);
    if (member) {
      clearTimeout(member.away);
      this.members.delete(id);
      this.raise('peer-left', {id});
    }
  }

  clearMembers() {
    this.members.forEach((member) => clearTimeout(member.away));
    this.members.clear();
  }

  serverIds() {
    return [...this.members.values()].map((member) => member.serverId);
  }

  // The id this page knows a member by, from the id the server uses now.
  pageId(serverId) {
    for (const [id, member] of this.members) {
      if (member.serverId === serverId) {
        return id;
      }
    }
    return serverId;
  }

  raise(event, ...args) {
    for (const handler of this.handlers.get(event) ?? []) {
      handler(...args);
    }
  }
}
