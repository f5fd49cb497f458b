'use strict';

// Load generator for a signaling server that follows docs/signaling-contract.md. K sender/receiver
// pairs join rooms of two; each sender keeps WINDOW acknowledged `signal`s in flight for SECONDS,
// after a one-second warm-up. Prints one JSON line: signals/s, ack latency, deliveries, errors.
//
//   node bench/signaling_load.js URL[,URL...] PAIRS WINDOW SECONDS
//   node bench/signaling_load.js idle URL COUNT      (COUNT idle connections; prints when ready)

const {io} = require('socket.io-client');

const CANDIDATE = {candidate: {candidate: 'candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host', sdpMid: '0'}};

function connect(url) {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60000,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

// With several server processes (URLs separated by commas) each pair's sender and receiver are
// on different processes, so every signal crosses between them.
async function joinPair(urls, index) {
  const [sender, receiver] = await Promise.all([
    connect(urls[index % urls.length]), connect(urls[(index + 1) % urls.length]),
  ]);
  const room = `load-${index}`;
  const a = await sender.emitWithAck('join', {room, name: 's'});
  const b = await receiver.emitWithAck('join', {room, name: 'r'});
  if (!a.ok || !b.ok) {
    throw new Error(`join failed: ${JSON.stringify([a, b])}`);
  }
  const pair = {sender, receiver, to: b.id, delivered: 0};
  receiver.on('signal', () => (pair.delivered += 1));
  return pair;
}

function run(pair, window, stats) {
  const sendOne = () => {
    if (stats.stopped) {
      return;
    }
    const started = process.hrtime.bigint();
    pair.sender.timeout(10000).emit('signal', {to: pair.to, data: CANDIDATE}, (err, ack) => {
      if (stats.measuring) {
        if (err || !ack.ok) {
          stats.errors += 1;
        } else {
          stats.completed += 1;
          stats.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        }
      }
      sendOne();
    });
  };
  for (let i = 0; i < window; i++) {
    sendOne();
  }
}

function percentile(sorted, fraction) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] : null;
}

async function load(urls, pairs, window, seconds) {
  const all = await Promise.all(Array.from({length: pairs}, (_, i) => joinPair(urls, i)));
  const stats = {measuring: false, stopped: false, completed: 0, errors: 0, latencies: []};
  all.forEach((pair) => run(pair, window, stats));
  await new Promise((resolve) => setTimeout(resolve, 1000)); // warm-up
  const deliveredBefore = all.reduce((sum, p) => sum + p.delivered, 0);
  stats.measuring = true;
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stats.measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  const delivered = all.reduce((sum, p) => sum + p.delivered, 0) - deliveredBefore;
  stats.stopped = true;
  all.forEach((p) => {
    p.sender.close();
    p.receiver.close();
  });
  const sorted = stats.latencies.sort((x, y) => x - y);
  return {
    pairs, window, seconds: elapsed,
    signalsPerSecond: stats.completed / elapsed,
    deliveredPerSecond: delivered / elapsed,
    errors: stats.errors,
    ackP50Ms: percentile(sorted, 0.5),
    ackP99Ms: percentile(sorted, 0.99),
  };
}

async function idle(url, count) {
  const sockets = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({length: Math.min(100, count - i)}, () => connect(url));
    sockets.push(...(await Promise.all(batch)));
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
