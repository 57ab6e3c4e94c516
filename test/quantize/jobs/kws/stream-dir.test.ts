/**
 * A missing stream folder names what builds it: plain `npm run data:kws` does not write the
 * default held-out stream (.cache/kws-stream60/stream), the job's stream corpus does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStreamDir } from '../../../../quantize/jobs/kws/retune.js';
import { caughtEdgeRnnError as err } from '../../../helpers/errors.js';

describe('readStreamDir', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kws-stream-dir-'));

  it('the default held-out stream, when missing, names the command line that builds it', () => {
    const e = err(() => readStreamDir(path.join(root, '.cache/kws-stream60/stream')));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(/needs stream.wav and stream.json \(the 60-minute held-out stream is built by npm run train:kws, or alone by npm run data:kws -- --out \.cache\/kws-stream60 .*--stream-minutes 60\)/);
  });

  it('another folder says where npm run data:kws writes a stream', () => {
    expect(err(() => readStreamDir(path.join(root, 'elsewhere'))).message).toMatch(/needs stream.wav and stream.json \(npm run data:kws writes them in <out>\/stream\)/);
  });
});
