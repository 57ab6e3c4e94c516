/**
 * The fitted statistical model of a 3-axis wrist accelerometer per activity, as the generator
 * reads it (fit.ts writes it). Units: g; rate: `rateHz` (the recordings' rate, 32 Hz for HMP).
 *
 * A recording of activity a and duration n samples is modelled as
 *   x[t] = posture(t/n) + level · envelope(t/n) · u[t] + sensor noise,   then 6-bit codes
 * where
 *   posture   the slow component (Gaussian low-pass, σ = lowpassSeconds): gravity direction and
 *             slow arm motion, as `knots` points per axis over normalized time [0, 1]:
 *             mean + Σ_k z_k · scale_k · component_k, z_k ~ N(0, 1) (PCA of the recordings),
 *             plus a wander w(t) between the knots: a VAR of order `wander.order` on the slow
 *             component minus the knot curve, sampled every `wander.decimation` samples and
 *             linearly interpolated
 *   u         the fast component x - posture divided by its level and envelope, a stationary
 *             vector autoregression u[t] = Σ_{j=1..p} A_j u[t-j] + L e[t], e ~ N(0, I₃)
 *             (its spectrum: step rhythm, hand tremor, impacts)
 *   level     RMS of x - posture over the recording, log-normal across recordings
 *   envelope  mean RMS profile of x - posture over normalized time (mean square 1)
 *   duration  log-normal number of samples, clamped to the observed range
 */

export interface ImuActivityModel {
  /** Activity name (the dataset's label). */
  activity: string;
  /** Recordings it was fitted on. */
  recordings: number;
  /** ln(samples): mean and std; clamp range in samples. */
  duration: { logMean: number; logStd: number; min: number; max: number };
  /**
   * Posture knots: mean [3·knots] (axis-major: x knots, then y, then z), components [k][3·knots],
   * scales [k] (std of each score), residualStd: the variance of the components left out, spread
   * evenly over the knots (independent N(0, residualStd²) per knot).
   */
  posture: { mean: number[]; components: number[][]; scales: number[]; residualStd: number };
  /** ln(level): mean and std across recordings (level in g). */
  level: { logMean: number; logStd: number };
  /** RMS profile over `knots` points of normalized time (mean square 1). */
  envelope: number[];
  /** VAR order p; coefficients [3][3p]: u_i[t] = Σ_j Σ_k A[i][3(j-1)+k] u_k[t-j] + (L e)_i. */
  order: number;
  coefficients: number[][];
  /** Lower Cholesky factor of the innovation covariance [3][3]. */
  innovation: number[][];
  /** Spectral radius of the VAR's companion matrix after the stability guard (< 1). */
  spectralRadius: number;
  /** Slow posture wander between the knots: a VAR (same layout as above) at rateHz / decimation. */
  wander: { decimation: number; order: number; coefficients: number[][]; innovation: number[][]; spectralRadius: number };
}

export interface ImuGeneratorModel {
  /** Format tag. */
  format: 'edgernn-imu-generator/1';
  /** Where the fit came from (dataset name, files, sha256). */
  source: { dataset: string; sha256: string; recordings: number; volunteers: string[] };
  /** Rate the model was fitted at (and generates at before resampling), Hz. */
  rateHz: number;
  /** Axis names. */
  axes: string[];
  /** Knots per axis of the posture curve and the envelope. */
  knots: number;
  /** σ of the Gaussian low-pass that separates posture from motion, s. */
  lowpassSeconds: number;
  /** Sensor: full scale ±rangeG, `bits` per axis (HMP: ±1.5 g, 6 bits), white noise σ in g before quantization. */
  sensor: { rangeG: number; bits: number; noiseG: number };
  activities: ImuActivityModel[];
}
