/** A short stream of the committed fixture clips (held-out voices) with its truth, for the stream scorers' tests. */
import fs from 'node:fs';
import path from 'node:path';
import { encodeWav, readWavMono } from '../../../../src/index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures/kws');
const SR = 16000;

/** Writes dir/stream.wav and dir/stream.json: the fixture clips one after another, gapSec (default 0.6 s) of silence between them, with the keywords' truth; returns the keyword count. */
export function fixtureStream(dir: string, gapSec = 0.6): number {
  const clips = (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8')) as { clips: { file: string; label: string }[] }).clips;
  const gap = Math.round(gapSec * SR);
  const parts: Float32Array[] = [];
  const keywords: { word: string; onsetSec: number; offsetSec: number }[] = [];
  let at = gap;
  parts.push(new Float32Array(gap));
  for (const c of clips) {
    const x = readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, c.file)))).samples;
    if (!c.label.startsWith('_')) keywords.push({ word: c.label, onsetSec: at / SR, offsetSec: (at + x.length) / SR });
    parts.push(x, new Float32Array(gap));
    at += x.length + gap;
  }
  const all = new Float32Array(at);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  fs.writeFileSync(path.join(dir, 'stream.wav'), encodeWav(all, SR));
  fs.writeFileSync(path.join(dir, 'stream.json'), JSON.stringify({ durationSec: at / SR, keywords }));
  return keywords.length;
}
