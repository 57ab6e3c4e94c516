/**
 * Settings of the keyword-spotting job (`npm run train:kws`) in one place. Every number the
 * shipped model depends on is here; the job records all of them in the model's manifest.
 */
import { audioFrontendSpec, type AudioFrontendSpec, type RecurrentKind, type WindowSpec } from '../../../src/index.js';
import { usageError } from '../../../src/cli/framework.js';
import { TRAINVAL_FESTIVAL_VOICES } from '../../data/kws/voices.js';
import { AUGMENT_DEFAULTS, type AugmentOptions } from './augment.js';
import type { WindowOptions } from './windows.js';

export interface KwsJobOptions {
  /**
   * The corpora, as `npm run data:kws` arguments (built when missing, reused when complete):
   * `main` is the default corpus (train/val/test clips), `extra` more clips of the training-only
   * flite voices awb and rms (the default corpus has 23 per voice; the held-out voices are flite
   * voices too, so the trainer should hear more than 46 flite clips), `stream` the 60-minute
   * held-out stream (test voices only; the same generator as the default corpus's 10-minute
   * stream, with its own events: about 520 keywords and 1,000 distractor sentences).
   */
  corpora: { main: string[]; extra: string[]; stream: string[] };
  /**
   * Festival voices added to the extra corpus (train only; `corpusArgs` appends them, with a cache
   * directory of their own). ked is an English diphone voice; the six others say the keywords
   * from respellings (Italian, Finnish, Czech; three women, three men). Empty: no festival.
   */
  festivalVoices: string[];
  /** Feature and stream cache (git-ignored). */
  cacheDir: string;
  /** Where the shipped model goes. */
  out: string;
  /** Audio front end; stored as the model's `input.frontend` so serving repeats it. */
  frontend: AudioFrontendSpec;
  arch: RecurrentKind;
  hidden: number;
  /** Architectures trained as well, for the comparison in the manifest (not shipped). */
  compare: RecurrentKind[];
  epochs: number;
  patience: number;
  lr: number;
  /** Class weights of the loss: 'balanced' = N / (C·n_c) (the stream windows are mostly _unknown_). */
  classWeights: 'none' | 'balanced';
  /** Quantization-aware fine-tuning epochs after post-training quantization (0: PTQ only). */
  qatEpochs: number;
  qatLr: number;
  seed: number;
  /** Streams of the train/val voices (minutes, seeds): windows to train on, thresholds to tune on. */
  trainStream: { minutes: number; seed: number };
  valStream: { minutes: number; seed: number };
  windows: Omit<WindowOptions, 'frameRateHz' | 'frameOffsetSec'>;
  /**
   * How the model reads a live stream (the front end's `windows`, stored in the manifest): the
   * last `frames` frames every `hop` frames, each window from a reset state, as it was trained
   * (1.5 s windows, `windows.lengthSec`). null: one never-reset session (models before this).
   */
  slidingWindows: WindowSpec | null;
  /**
   * Speed perturbation of training clips (features.ts speedPerturb): every flite and festival clip once per
   * factor in `flite`; every espeak-ng clip once, with one factor of `espeak` chosen by its path.
   */
  perturb: { flite: number[]; espeak: number[] };
  /** Feature-domain augmentation of every training batch (augment.ts). */
  augment: AugmentOptions;
  /** Detector settings fixed before tuning, and the tuning budget on the validation stream. */
  detector: { windowMs: number; refractoryMs: number; rearm: number; maxFalseAcceptsPerHour: number; minThreshold: number };
  /** Concurrent synthesis jobs when a corpus or stream must be built. */
  jobs: number;
}

export const KWS_JOB_DEFAULTS: KwsJobOptions = {
  corpora: {
    main: [],
    extra: ['--out', '.cache/kws-extra', '--seed', '2', '--accents', 'en-us', '--variants', 'm1', '--clips-per-word', '20', '--unknown-per-speaker', '30', '--test-clips-per-word', '0', '--test-unknown-per-speaker', '0', '--stream-minutes', '0'],
    stream: ['--out', '.cache/kws-stream60', '--accents', 'en-us', '--variants', 'm1', '--clips-per-word', '0', '--unknown-per-speaker', '0', '--test-clips-per-word', '0', '--test-unknown-per-speaker', '0', '--stream-minutes', '60'],
  },
  festivalVoices: ['ked', 'it_lp', 'it_pc', 'fi_lj', 'fi_mv', 'cs_dita', 'cs_ph'],
  cacheDir: '.cache/kws-job',
  out: 'models/kws.ern',
  // Hello Edge's framing (40 ms frames every 20 ms) with 13 MFCCs from 40 HTK mels.
  frontend: audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, nMfcc: 13 }),
  arch: 'gru',
  hidden: 64,
  compare: ['lstm'],
  epochs: 30,
  patience: 6,
  lr: 5e-3,
  classWeights: 'balanced',
  qatEpochs: 3,
  qatLr: 5e-4,
  seed: 1,
  trainStream: { minutes: 60, seed: 2001 },
  valStream: { minutes: 60, seed: 1001 },
  windows: { lengthSec: 1.5, posMinSec: 0.1, posMaxSec: 0.45, negAfterSec: 0.7, speechLookbackSec: 1.0, positivesPerKeyword: 2, negatives: 3000, seed: 7 },
  // 75 frames of 20 ms = the 1.5 s training windows, every 100 ms.
  slidingWindows: { frames: 75, hop: 5 },
  perturb: { flite: [0.8, 0.9, 1.1, 1.2, 1.3], espeak: [0.85, 1.15] },
  augment: { ...AUGMENT_DEFAULTS, offsetStd: 0.5, warp: { nMels: 40, maxBands: 3 } },
  detector: { windowMs: 200, refractoryMs: 1000, rearm: 1, maxFalseAcceptsPerHour: 0.5, minThreshold: 0.5 },
  jobs: 2,
};

/** The extra corpus's `npm run data:kws` arguments with festival voices, in a directory of its own (so a corpus without them stays cached). */
export function withFestival(extraArgs: readonly string[], voices: readonly string[]): string[] {
  if (voices.length === 0) throw usageError(`--festival needs at least one voice of ${TRAINVAL_FESTIVAL_VOICES.join(', ')}`);
  for (const v of voices) if (!TRAINVAL_FESTIVAL_VOICES.includes(v)) throw usageError(`--festival takes voices of ${TRAINVAL_FESTIVAL_VOICES.join(', ')} (festival's kal and slt are the held-out speakers), got '${v}'`);
  const args = [...extraArgs, '--festival', voices.join(',')];
  const i = args.indexOf('--out');
  if (i >= 0) args[i + 1] = `${args[i + 1]}-festival-${voices.join('-')}`;
  return args;
}

/** The `npm run data:kws` arguments of one of the job's corpora (the extra one with the festival voices). */
export function corpusArgs(o: Pick<KwsJobOptions, 'corpora' | 'festivalVoices'>, which: 'main' | 'extra' | 'stream'): string[] {
  return which === 'extra' && o.festivalVoices.length > 0 ? withFestival(o.corpora.extra, o.festivalVoices) : [...o.corpora[which]];
}
