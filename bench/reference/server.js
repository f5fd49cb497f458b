'use strict';

// A minimal Node socket.io 4 server with the tutorial's signaling contract
// (docs/signaling-contract.md): the reference the Python server is measured against. It validates
// and answers like common/signaling.py, without a rate limit (the benchmark lifts ours too).
//
//   PORT=8090 MAX_ROOM_SIZE=2 node bench/reference/server.js

const crypto = require('node:crypto');
const http = require('node:http');
const {Server} = require('socket.io');

const PORT = Number(process.env.PORT || 8090);
const CAPACITY = Number(process.env.MAX_ROOM_SIZE || 2);
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DESCRIPTION_TYPES = new Set(['offer', 'answer', 'pranswer', 'rollback']);
const SIGNAL_MAX_BYTES = 64 * 1024;

const rooms = new Map(); // room -> Map(member id -> member)
let members = 0;

const httpServer = http.createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({rooms: rooms.size, members}));
});
const io = new Server(httpServer, {
  maxHttpBufferSize: 256 * 1024,
  pingInterval: 10000,
  pingTimeout: 5000,
});

function refuse(code, message) {
  return {ok: false, error: {code, message}};
}

function cleanName(value) {
  const name = typeof value === 'string' ? value.trim() : '';
  // \p{C}: control, format and unassigned characters, like Python's not isprintable().
  return name.length >= 1 && name.length <= 32 && !/[\p{C}\p{Zl}\p{Zp}]/u.test(name) ? name : null;
}

function validSignalData(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data) || Object.keys(data).length !== 1) {
    return false;
  }
  if ('description' in data) {
    const d = data.description;
    return !!d && typeof d === 'object' && DESCRIPTION_TYPES.has(d.type) &&
      (d.sdp === undefined || typeof d.sdp === 'string');
  }
  const c = data.candidate;
  return !!c && typeof c === 'object' && typeof c.candidate === 'string';
}

function join(socket, state, payload) {
  if (!payload || typeof payload !== 'object' || !ROOM_PATTERN.test(payload.room ?? '')) {
    return refuse('invalid', 'room must be 1-64 characters of A-Z a-z 0-9 _ -');
  }
  const name = cleanName(payload.name);
  if (name === null) {
    return refuse('invalid', 'name must be 1-32 printable characters');
  }
  if (state.member) {
    return refuse('already-joined', 'this connection is already in a room');
  }
  const room = rooms.get(payload.room) ?? new Map();
  if (room.size >= CAPACITY) {
    return refuse('room-full', `room ${payload.room} is full (${CAPACITY} members)`);
  }
  const lower = name.toLowerCase();
  if ([...room.values()].some((m) => m.name.toLowerCase() === lower)) {
    return refuse('name-taken', `the name ${name} is taken in this room`);
  }
  const peers = [...room.values()].map(({id, name}) => ({id, name}));
  const member = {id: crypto.randomBytes(9).toString('base64url'), name, room: payload.room, socket};
  room.set(member.id, member);
  rooms.set(payload.room, room);
  members += 1;
  state.member = member;
  socket.to(member.room).emit('peer-joined', {id: member.id, name});
  socket.join(member.room);
  return {ok: true, id: member.id, peers, iceServers: []};
}

function signal(state, payload) {
  const sender = state.member;
  if (!sender) {
    return refuse('not-joined', 'join a room first');
  }
  if (!payload || typeof payload !== 'object' || typeof payload.to !== 'string' ||
      !validSignalData(payload.data)) {
    return refuse('invalid', 'signal needs a peer id and a description or a candidate');
  }
  if (Buffer.byteLength(JSON.stringify(payload.data)) > SIGNAL_MAX_BYTES) {
    return refuse('too-large', `signal data is over ${SIGNAL_MAX_BYTES} bytes`);
  }
  const target = rooms.get(sender.room)?.get(payload.to);
  if (!target || target === sender) {
    return refuse('unknown-peer', 'no such peer in your room');
  }
  target.socket.emit('signal', {from: sender.id, data: payload.data});
  return {ok: true};
}

function depart(socket, state) {
  const member = state.member;
  if (!member) {
    return;
  }
  state.member = null;
  const room = rooms.get(member.room);
  room.delete(member.id);
  if (room.size === 0) {
    rooms.delete(member.room);
  }
  members -= 1;
  socket.leave(member.room);
  io.to(member.room).emit('peer-left', {id: member.id});
}

// Every event takes an acknowledgement; one that arrives without is answered nowhere.
function handle(handler) {
  return (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : () => {};
    ack(handler(args.length === 1 ? args[0] : undefined));
  };
}

io.on('connection', (socket) => {
  const state = {member: null};
  socket.on('join', handle((payload) => join(socket, state, payload)));
  socket.on('signal', handle((payload) => signal(state, payload)));
  socket.on('leave', handle(() => {
    depart(socket, state);
    return {ok: true};
  }));
  socket.on('disconnect', () => depart(socket, state));
});

httpServer.listen(PORT, '127.0.0.1', () => console.log(`reference signaling server on ${PORT}`));
