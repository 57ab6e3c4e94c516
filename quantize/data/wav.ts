/**
 * WAV clips in the Speech Commands layout: <root>/<label>/<clip>.wav (16-bit PCM mono), turned
 * into feature frames by the audio front end of src/features. The audio front end is being
 * written in parallel; until src/index.ts exports it this loader stops with a clear error.
 */
import { EdgeRnnError } from '../../src/index.js';
import type { Dataset } from './dataset.js';

export interface WavOptions {
  /** Front end: 'mfcc' (default) or 'logmel'. */
  frontend?: 'mfcc' | 'logmel';
  labels?: readonly string[];
}

export async function loadWavFolder(_dir: string, shown: string, _opts: WavOptions): Promise<Dataset> {
  throw new EdgeRnnError('UNSUPPORTED_MODEL', `${shown}: WAV folders need the audio front end (src/features), which src/index.ts does not export yet`);
}
