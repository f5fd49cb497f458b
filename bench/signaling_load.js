'use strict';

// Load generator for a signaling server that follows docs/signaling-contract.md. K sender/receiver
// pairs join rooms of two; each sender keeps WINDOW acknowledged `signal`s in flight for SECONDS,
// after a one-second warm-up. Prints one JSON line: signals/s, ack latency, deliveries, errors.
// With several servers (URLs separated by commas) each pair's sender and receiver are on
// different ones, so every signal crosses between them.
//
//   node bench/signaling_load.js URL[,URL...] PAIRS WINDOW SECONDS
//   node bench/signaling_load.js idle URL COUNT      (COUNT idle connections; prints when ready)

const {io} = require('socket.io-client');

const CANDIDATE = {candidate: {candidate: 'candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host', sdpMid: '0'}};
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

function connect(url) {
  const socket = io(url, {transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60000});
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function joinPair(urls, index) {
  const [sender, receiver] = await Promise.all([0, 1].map((i) => connect(urls[(index + i) % urls.length])));
  const acks = [await sender.emitWithAck('join', {room: `load-${index}`, name: 's'})];
  acks.push(await receiver.emitWithAck('join', {room: `load-${index}`, name: 'r'}));
  if (!acks.every((ack) => ack.ok)) {
    throw new Error(`join failed: ${JSON.stringify(acks)}`);
  }
  const pair = {sender, receiver, to: acks[1].id, delivered: 0};
  receiver.on('signal', () => (pair.delivered += 1));
  return pair;
}

function keepSending(pair, window, stats) {
  const sendOne = () => {
    const started = process.hrtime.bigint();
    pair.sender.timeout(10000).emit('signal', {to: pair.to, data: CANDIDATE}, (err, ack) => {
      if (stats.measuring && (err || !ack.ok)) {
        stats.errors += 1;
      } else if (stats.measuring) {
        stats.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      if (!stats.stopped) {
        sendOne();
      }
    });
  };
  for (let i = 0; i < window; i++) {
    sendOne();
  }
}

async function load(urls, pairs, window, seconds) {
  const all = await Promise.all(Array.from({length: pairs}, (_, i) => joinPair(urls, i)));
  const stats = {measuring: false, stopped: false, errors: 0, latencies: []};
  const delivered = () => all.reduce((sum, pair) => sum + pair.delivered, 0);
  all.forEach((pair) => keepSending(pair, window, stats));
  await sleep(1); // warm-up
  const [deliveredBefore, started] = [delivered(), Date.now()];
  stats.measuring = true;
  await sleep(seconds);
  stats.measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  const deliveredPerSecond = (delivered() - deliveredBefore) / elapsed;
  stats.stopped = true;
  all.forEach((pair) => [pair.sender, pair.receiver].forEach((socket) => socket.close()));
  const sorted = stats.latencies.sort((x, y) => x - y);
  const percentile = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? null;
  return {
    pairs, window, seconds: elapsed, signalsPerSecond: sorted.length / elapsed, deliveredPerSecond,
    errors: stats.errors, ackP50Ms: percentile(0.5), ackP99Ms: percentile(0.99),
  };
}

async function idle(url, count) {
  const sockets = [];
  for (let i = 0; i < count; i += 100) {
    sockets.push(...(await Promise.all(Array.from({length: Math.min(100, count - i)}, () => connect(url)))));
  }
  console.log(JSON.stringify({idle: sockets.length}));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === 'idle') {
    await idle(args[1], Number(args[2]));
    return;
  }
  const [url, pairs = '4', window = '32', seconds = '10'] = args;
  console.log(JSON.stringify(await load(url.split(','), Number(pairs), Number(window), Number(seconds))));
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
