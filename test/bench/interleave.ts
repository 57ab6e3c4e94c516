/**
 * Interleaved timing for the benchmarks that compare variants of one call in one process:
 * calls per round calibrated on the first runner, then every runner timed once per round, the
 * order rotated each round so that none always runs on caches another warmed. Medians in ns per
 * call.
 */
export function interleavedMedians(runners: readonly (() => unknown)[], rounds: number, roundNs = 2e6): number[] {
  let calls = 1000;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) runners[0]!();
    if (Number(process.hrtime.bigint() - t0) > roundNs) break;
    calls *= 2;
  }
  const samples = runners.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + r) % runners.length;
      const t0 = process.hrtime.bigint();
      for (let c = 0; c < calls; c++) runners[i]!();
      samples[i]!.push(Number(process.hrtime.bigint() - t0) / calls);
    }
  }
  return samples.map((v) => [...v].sort((a, b) => a - b)[v.length >> 1]!);
}
