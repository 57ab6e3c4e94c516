/**
 * Analysis windows, periodic ("DFT-even") as scipy.signal.get_window(..., fftbins=True) and
 * librosa use them:
 *   hann     w[n] = 0.5  - 0.5  cos(2πn / L)
 *   hamming  w[n] = 0.54 - 0.46 cos(2πn / L),   n = 0..L-1
 */
export const WINDOW_KINDS = ['hann', 'hamming'] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];

export function makeWindow(kind: WindowKind, length: number): Float64Array {
  const [a, b] = kind === 'hann' ? [0.5, 0.5] : [0.54, 0.46];
  const w = new Float64Array(length);
  for (let n = 0; n < length; n++) w[n] = a - b * Math.cos((2 * Math.PI * n) / length);
  return w;
}
