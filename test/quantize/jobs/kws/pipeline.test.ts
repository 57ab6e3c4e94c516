/** Pieces of the keyword job that need no corpus: the training voices named in the manifest. */
import { describe, expect, it } from 'vitest';
import type { CorpusIndex } from '../../../../quantize/jobs/kws/features.js';
import { trainVoices } from '../../../../quantize/jobs/kws/pipeline.js';

function index(clips: { split: 'train' | 'val' | 'test'; speaker?: string }[]): CorpusIndex {
  return {
    root: '/x',
    labels: [],
    sampleRateHz: 16000,
    clips: clips.map((c, i) => ({ path: `${c.split}/yes/${i}.wav`, label: 'yes', ...c })),
    manifestSha256: '',
    options: {},
    configHash: '',
  };
}

describe('trainVoices', () => {
  it('names the training speakers by engine, over all corpora, ignoring validation, test and silence', () => {
    const main = index([
      { split: 'train', speaker: 'espeak-en-us-m1' },
      { split: 'train', speaker: 'espeak-en-gb-f2' },
      { split: 'train', speaker: 'flite-rms' },
      { split: 'train' },
      { split: 'val', speaker: 'espeak-en-us-m3' },
      { split: 'test', speaker: 'flite-slt' },
    ]);
    const extra = index([
      { split: 'train', speaker: 'espeak-en-us-m1' },
      { split: 'train', speaker: 'flite-awb' },
      { split: 'train', speaker: 'festival-it_lp' },
      { split: 'train', speaker: 'festival-ked' },
    ]);
    expect(trainVoices([main, extra])).toBe('espeak-ng (2 speakers), flite awb/rms, festival it_lp/ked');
  });
});
