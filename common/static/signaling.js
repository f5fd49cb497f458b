'use strict';

// The browser side of the signaling contract (DESIGN.md section 4), shared by steps 2 to 5.
// It is plumbing: it turns socket.io acknowledgements into promises. What to *do* with the
// offers, answers and candidates is the lesson, and lives in each step's main.js.

const SIGNALING_TIMEOUT_MS = 10000;

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
  }

  // Events from the server: 'peer-joined', 'peer-left', 'signal', plus socket.io's
  // 'connect' and 'disconnect'.
  on(event, handler) {
    this.socket.on(event, handler);
  }

  join(room, name) {
    return this.request('join', {room, name});
  }

  send(to, data) {
    return this.request('signal', {to, data});
  }

  leave() {
    return this.request('leave');
  }

  async request(event, ...payload) {
    const ack = await this.socket.timeout(SIGNALING_TIMEOUT_MS).emitWithAck(event, ...payload);
    if (!ack.ok) {
      throw new SignalingError(ack.error);
    }
    return ack;
  }
}
