/**
 * Festival's ked diphone voice through the corpus's synthesize(): real text2wave, prosody that
 * takes effect, and a --small corpus with ked in training and nowhere else. Skips, saying why,
 * when festival or the voice is not installed (CI installs festival and festvox-kdlpc16k).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWavInfo } from '../../../src/index.js';
import { generateKwsCorpus, KWS_CORPUS_DEFAULTS, KWS_CORPUS_SMALL } from '../../../quantize/data/kws/corpus.js';
import { festivalVoiceDir, missingTools, soxToFloat, synthesize } from '../../../quantize/data/kws/tools.js';
import { FESTIVAL_VOICES, festivalSpeaker, spokenText } from '../../../quantize/data/kws/voices.js';

function festivalAbsent(): string | undefined {
  try {
    execFileSync('text2wave', ['-h'], { stdio: 'ignore' });
  } catch {
    return 'text2wave (Debian package festival) not installed';
  }
  return existsSync(festivalVoiceDir('ked')) ? undefined : 'the ked voice (Debian package festvox-kdlpc16k) not installed';
}
const why = festivalAbsent();
if (why !== undefined) console.log(`skipping the festival tests: ${why}`);

const root = mkdtempSync(join(tmpdir(), 'edgernn-festival-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(why !== undefined)('festival ked', () => {
  it('speaks a keyword as a 16 kHz WAV, and Duration_Stretch and the target F0 take effect', async () => {
    const lengths: number[] = [];
    for (const [i, durationStretch] of [0.85, 1.3].entries()) {
      const out = join(root, `stop-${i}.wav`);
      await synthesize('festival', 'ked', 'stop', { durationStretch, f0Scale: 1 }, out);
      const info = readWavInfo(readFileSync(out), out);
      expect(info.sampleRateHz).toBe(16000);
      const x = await soxToFloat([out], [], 16000);
      expect(Math.max(...x.map(Math.abs))).toBeGreaterThan(0.05);
      lengths.push(x.length);
    }
    expect(lengths[1]! / lengths[0]!).toBeGreaterThan(1.2);
    // A higher target F0 changes the waveform (same text, same duration stretch).
    const lo = join(root, 'go-lo.wav');
    const hi = join(root, 'go-hi.wav');
    await synthesize('festival', 'ked', 'go', { durationStretch: 1, f0Scale: 0.85 }, lo);
    await synthesize('festival', 'ked', 'go', { durationStretch: 1, f0Scale: 1.2 }, hi);
    const [a, b] = [await soxToFloat([lo], [], 16000), await soxToFloat([hi], [], 16000)];
    expect(zeroCrossingsPerSample(b)).toBeGreaterThan(zeroCrossingsPerSample(a));
  });

  it('every installed voice of another language says a respelled keyword, in its own text encoding (the rest are named as not installed)', async () => {
    const absent: string[] = [];
    for (const [name, v] of Object.entries(FESTIVAL_VOICES)) {
      if (v.language === 'en') continue;
      if (!existsSync(festivalVoiceDir(name))) {
        absent.push(`${name} (${v.package})`);
        continue;
      }
      // "yes" is respelled with letters outside ASCII for Catalan (iès) and Russian (йес, UTF-8).
      const out = join(root, `${name}-yes.wav`);
      await synthesize('festival', name, spokenText(festivalSpeaker(name), 'yes'), { durationStretch: 1, f0Scale: 1 }, out);
      const x = await soxToFloat([out], [], 16000);
      expect(x.length, name).toBeGreaterThan(0.2 * 16000);
      expect(Math.max(...x.map(Math.abs)), name).toBeGreaterThan(0.05);
    }
    if (absent.length > 0) console.log(`festival voices not installed, not tested: ${absent.join(', ')}`);
  }, 60_000);

  it.skipIf(!existsSync(festivalVoiceDir('ru_nsh')))('the Russian voice reads UTF-8: "йес" is one short syllable, not the digits and letter its bytes spell in Latin-1', async () => {
    const out = join(root, 'ru-yes.wav');
    await synthesize('festival', 'ru_nsh', spokenText(festivalSpeaker('ru_nsh'), 'yes'), { durationStretch: 1, f0Scale: 1 }, out);
    const seconds = (await soxToFloat([out], [], 16000)).length / 16000;
    // Measured: 0.61 s read as UTF-8; 1.27 s when written as Latin-1 ("95A").
    expect(seconds).toBeLessThan(0.9);
  }, 30_000);

  it('missingTools asks for festival only when a festival voice is wanted', async () => {
    expect(await missingTools(['ked'])).toEqual([]);
  });

  it('a --small corpus with ked: ked clips in train only, none in val or test', async () => {
    const { manifest } = await generateKwsCorpus({
      ...KWS_CORPUS_DEFAULTS,
      ...KWS_CORPUS_SMALL,
      outDir: join(root, 'corpus'),
      espeakAccents: ['en-us'],
      espeakVariants: ['m1'],
      festivalVoices: ['ked'],
      testClipsPerWord: 0,
      testUnknownPerSpeaker: 0,
      streamMinutes: 0,
      jobs: 2,
    });
    const ked = manifest.clips.filter((c) => c.speaker === 'festival-ked');
    expect(ked.length).toBe(10 + 1); // one clip per keyword and one _unknown_
    expect(ked.every((c) => c.split === 'train' && c.path.includes('festival-ked_'))).toBe(true);
    expect(manifest.clips.filter((c) => c.split !== 'train').every((c) => !c.sources.includes('festival-ked'))).toBe(true);
  }, 120_000);
});

function zeroCrossingsPerSample(x: Float32Array): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if (x[i - 1]! < 0 !== x[i]! < 0) n++;
  return n / x.length;
}
