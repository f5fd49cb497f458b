'use strict';

// A phone's ring for step 11's incoming calls, made with Web Audio (no sound file to serve): two
// tones together, two seconds on and four off. Browsers play sound only on a page the user has
// interacted with (here: clicked Join); elsewhere the AudioContext stays suspended and the ring
// is silent, which is fine: the incoming-call panel shows the call. Plumbing: the call is the
// lesson, not the sound.

const RING_TONES_HZ = [440, 480];
const RING_ON_S = 2;
const RING_CYCLE_S = 6;
const RING_CYCLES = 20; // two minutes, longer than any call rings

class Ringer {
  constructor() {
    this.context = null;
  }

  start() {
    this.stop();
    this.context = new AudioContext();
    const volume = this.context.createGain();
    volume.connect(this.context.destination);
    const start = this.context.currentTime;
    for (let cycle = 0; cycle < RING_CYCLES; cycle++) {
      volume.gain.setValueAtTime(0.1, start + cycle * RING_CYCLE_S);
      volume.gain.setValueAtTime(0, start + cycle * RING_CYCLE_S + RING_ON_S);
    }
    for (const frequency of RING_TONES_HZ) {
      const tone = new OscillatorNode(this.context, {frequency});
      tone.connect(volume);
      tone.start();
    }
  }

  stop() {
    this.context?.close();
    this.context = null;
  }
}
