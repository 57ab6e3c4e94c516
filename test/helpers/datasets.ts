/** Dataset loading in tests: the message of the BAD_DATA error a file gives. */
import { isEdgeRnnError } from '../../src/index.js';
import { loadDataset, type LoadOptions } from '../../quantize/data/load.js';

/** The BAD_DATA message loading `p` gives; any other error is rethrown, and a file that loads fails the test. */
export async function loadFailure(p: string, opts: LoadOptions): Promise<string> {
  try {
    await loadDataset(p, opts);
  } catch (e) {
    if (!isEdgeRnnError(e, 'BAD_DATA')) throw e;
    return e.message;
  }
  throw new Error(`${p} loaded without error`);
}
