/**
 * A pool of `jobs` concurrent async workers over a list of tasks. Each synthesis task spends its
 * time in child processes (espeak-ng/flite, sox), so `jobs` concurrent tasks keep `jobs` cores
 * busy. Results keep the order of `items`; the first failure stops new tasks from starting and is
 * rethrown once the running ones have settled.
 */
export async function runPool<T, R>(items: readonly T[], jobs: number, work: (item: T, index: number) => Promise<R>, onDone?: (result: R, index: number) => void): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i]!, i);
        onDone?.(results[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
