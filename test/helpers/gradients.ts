/** Test helper: finite differences for gradient checks. */

/** (f(v + eps) − f(v − eps)) / 2·eps, with values[i] = v moved in place and put back. */
export function centralDifference(values: { [i: number]: number }, i: number, eps: number, f: () => number): number {
  const v = values[i]!;
  values[i] = v + eps;
  const up = f();
  values[i] = v - eps;
  const down = f();
  values[i] = v;
  return (up - down) / (2 * eps);
}
