/**
 * Saves batches of stream states without end, for state-batch.test.ts to SIGKILL in the middle of
 * one: `node --import tsx state-batch-child.ts DIR KEYS`. Batch v gives key i the bytes
 * batchStateBytes(i, v); after each batch it prints `batch v`.
 */
import { fileStateStore } from '../../src/gateway/state-store.js';
import { batchStateBytes } from './state-batch-bytes.js';

const [dir, n] = [process.argv[2]!, Number(process.argv[3])];
const store = fileStateStore(dir);
for (let v = 1; ; v++) {
  const failed = store.saveMany!(Array.from({ length: n }, (_, i) => [`dev-${i}/imu`, batchStateBytes(i, v)] as const));
  if (failed.length > 0) throw failed[0]!.error;
  process.stdout.write(`batch ${v}\n`);
}
