/**
 * Mel scales and the triangular mel filterbank, following librosa (`librosa.hz_to_mel`,
 * `librosa.mel_frequencies`, `librosa.filters.mel`):
 *
 *   htk      mel = 2595 · log10(1 + f / 700)
 *   slaney   mel = f / (200/3)                          for f <  1000 Hz
 *            mel = 15 + ln(f / 1000) / (ln(6.4) / 27)    for f >= 1000 Hz   (Auditory Toolbox)
 *
 * Filter m (0-based) is a triangle over FFT bin frequencies f_k = k · sr / nfft with corners at
 * the mel-spaced edges hz[m], hz[m+1], hz[m+2] (nMels + 2 edges evenly spaced in mel between
 * fMin and fMax):
 *   w[m][k] = max(0, min((f_k - hz[m]) / (hz[m+1] - hz[m]), (hz[m+2] - f_k) / (hz[m+2] - hz[m+1])))
 * melNorm 'slaney' scales each triangle to unit area: w[m] *= 2 / (hz[m+2] - hz[m]).
 * Weights are float64 (librosa defaults to float32 weights; the difference is < 1e-7 relative).
 */
export const MEL_SCALES = ['htk', 'slaney'] as const;
export type MelScale = (typeof MEL_SCALES)[number];
export const MEL_NORMS = ['none', 'slaney'] as const;
export type MelNorm = (typeof MEL_NORMS)[number];

const SLANEY_F_SP = 200 / 3; // Hz per mel below 1 kHz
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP; // 15
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  if (hz >= SLANEY_MIN_LOG_HZ) return SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
  return hz / SLANEY_F_SP;
}

export function melToHz(mel: number, scale: MelScale): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1);
  if (mel >= SLANEY_MIN_LOG_MEL) return SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
  return SLANEY_F_SP * mel;
}

export interface MelFilterbankOptions {
  sampleRateHz: number;
  nfft: number;
  nMels: number;
  fMinHz: number;
  fMaxHz: number;
  melScale: MelScale;
  melNorm: MelNorm;
}

/**
 * Sparse filterbank: filter m covers bins start[m] .. start[m] + length[m] - 1 with weights
 * weights[offset[m] + j]. A filter narrower than one bin can be empty (length 0), as in librosa.
 */
export interface MelFilterbank {
  nMels: number;
  /** FFT bins per frame: nfft / 2 + 1. */
  nBins: number;
  /** nMels + 2 triangle corners in Hz. */
  edgesHz: Float64Array;
  start: Int32Array;
  length: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

export function melFilterbank(o: MelFilterbankOptions): MelFilterbank {
  const nBins = Math.floor(o.nfft / 2) + 1;
  const lo = hzToMel(o.fMinHz, o.melScale);
  const hi = hzToMel(o.fMaxHz, o.melScale);
  const edgesHz = new Float64Array(o.nMels + 2);
  // numpy.linspace(lo, hi, n): i · step + lo with step = (hi - lo) / (n - 1), last point exactly hi
  const step = (hi - lo) / (edgesHz.length - 1);
  for (let i = 0; i < edgesHz.length; i++) {
    const mel = i === edgesHz.length - 1 ? hi : i * step + lo;
    edgesHz[i] = melToHz(mel, o.melScale);
  }
  const start = new Int32Array(o.nMels);
  const length = new Int32Array(o.nMels);
  const offset = new Int32Array(o.nMels);
  const rows: number[][] = [];
  let total = 0;
  for (let m = 0; m < o.nMels; m++) {
    const f0 = edgesHz[m]!;
    const f1 = edgesHz[m + 1]!;
    const f2 = edgesHz[m + 2]!;
    const enorm = o.melNorm === 'slaney' ? 2 / (f2 - f0) : 1;
    const row: number[] = [];
    let first = -1;
    // The weight is positive only for f0 < f_k < f2: scan those bins (one bin of margin each
    // side for rounding; the formula still decides), not all nBins for every filter, which made
    // a large filterbank O(nMels · nBins) (nfft 2^20 with 2^19 mels: about half an hour).
    const kLo = Math.max(0, Math.floor((f0 * o.nfft) / o.sampleRateHz) - 1);
    const kHi = Math.min(nBins - 1, Math.ceil((f2 * o.nfft) / o.sampleRateHz) + 1);
    for (let k = kLo; k <= kHi; k++) {
      const fk = (k * o.sampleRateHz) / o.nfft;
      const w = Math.max(0, Math.min((fk - f0) / (f1 - f0), (f2 - fk) / (f2 - f1))) * enorm;
      if (w > 0) {
        if (first < 0) first = k;
        // zeros inside a triangle cannot happen (it is convex), so the row stays contiguous
        row.push(w);
      }
    }
    start[m] = Math.max(first, 0);
    length[m] = row.length;
    offset[m] = total;
    total += row.length;
    rows.push(row);
  }
  const weights = new Float64Array(total);
  rows.forEach((row, m) => weights.set(row, offset[m]!));
  return { nMels: o.nMels, nBins, edgesHz, start, length, offset, weights };
}

/** Dense [nMels][nBins] weights, for tests and for export to a trainer. */
export function melFilterbankDense(fb: MelFilterbank): Float64Array {
  const out = new Float64Array(fb.nMels * fb.nBins);
  for (let m = 0; m < fb.nMels; m++) {
    for (let j = 0; j < fb.length[m]!; j++) out[m * fb.nBins + fb.start[m]! + j] = fb.weights[fb.offset[m]! + j]!;
  }
  return out;
}
