'use strict';

// The browser side of the signaling contract (docs/signaling-contract.md), shared by steps 2 to 5.
// It is plumbing: it turns socket.io acknowledgements into promises and rejoins the room after
// the server comes back. What to *do* with offers, answers and candidates is the lesson, and
// lives in each step's main.js.

const SIGNALING_TIMEOUT_MS = 10000;
const REJOIN_ATTEMPTS = 5;
// Events this class raises itself; every other event name comes from the server.
const LOCAL_EVENTS = ['rejoined', 'rejoin-failed'];

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
    this.membership = null; // {room, name} while joined, to rejoin after a reconnect
    this.listeners = new Map(LOCAL_EVENTS.map((event) => [event, []]));
    this.socket.on('connect', () => this.rejoin());
  }

  // Server events: 'peer-joined', 'peer-left', 'signal', and socket.io's 'connect' and
  // 'disconnect'. Local events: 'rejoined' (with the new join ack) and 'rejoin-failed' (with
  // the error).
  on(event, handler) {
    if (this.listeners.has(event)) {
      this.listeners.get(event).push(handler);
    } else {
      this.socket.on(event, handler);
    }
  }

  // After a 'disconnect': whether socket.io keeps trying to reconnect (it does unless the server
  // closed the connection on purpose).
  get reconnecting() {
    return this.socket.active;
  }

  async join(room, name) {
    const ack = await this.request('join', {room, name});
    this.membership = {room, name};
    return ack;
  }

  send(to, data) {
    return this.request('signal', {to, data});
  }

  leave() {
    this.membership = null;
    return this.request('leave');
  }

  async request(event, ...payload) {
    const ack = await this.socket.timeout(SIGNALING_TIMEOUT_MS).emitWithAck(event, ...payload);
    if (!ack.ok) {
      throw new SignalingError(ack.error);
    }
    return ack;
  }

  // After a server restart or a network cut the server no longer knows us: join again under the
  // same name (we get a new id). Peer connections that are up do not need the server and go on.
  async rejoin() {
    if (!this.membership) {
      return;
    }
    const {room, name} = this.membership;
    for (let attempt = 1; ; attempt++) {
      try {
        this.raise('rejoined', await this.request('join', {room, name}));
        return;
      } catch (error) {
        // name-taken: the server has not yet noticed that our old connection is gone.
        if (error.code !== 'name-taken' || attempt === REJOIN_ATTEMPTS) {
          this.membership = null;
          this.raise('rejoin-failed', error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      }
    }
  }

  raise(event, ...args) {
    for (const handler of this.listeners.get(event)) {
      handler(...args);
    }
  }
}
