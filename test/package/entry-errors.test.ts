/**
 * Errors across the package's entry points. Each entry is its own bundle with its own copy of
 * EdgeRnnError (dist/ as `npm run build` makes it; `npm test` builds first): an error thrown by
 * one entry used to be no EdgeRnnError to `instanceof` and `isEdgeRnnError` from another.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (file: string): string => pathToFileURL(path.join(root, 'dist', file)).href;

type Main = typeof import('../../src/index.js');
type Lean = typeof import('../../src/runtime/index.js');
type GatewayEntry = typeof import('../../src/gateway/index.js');

/** What `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('EdgeRnnError across entry points', () => {
  it('an error from edgernn/runtime (ESM and CommonJS) and edgernn/gateway is an EdgeRnnError to edgernn', async () => {
    const main = (await import(dist('index.js'))) as Main;
    const lean = (await import(dist('runtime.js'))) as Lean;
    const leanCjs = createRequire(import.meta.url)(path.join(root, 'dist/runtime.cjs')) as Lean;
    const gateway = (await import(dist('gateway.js'))) as GatewayEntry;
    // Each entry's own class is a different copy: the case the brand exists for.
    expect(lean.EdgeRnnError).not.toBe(main.EdgeRnnError);

    const errors = {
      runtime: thrown(() => lean.createRuntimeSync().loadSync(new Uint8Array(3))),
      runtimeCjs: thrown(() => leanCjs.createRuntimeSync().loadSync(new Uint8Array(3))),
      gateway: thrown(() => gateway.parseGatewayConfig({ routes: 3 } as never)),
      main: thrown(() => main.createRuntimeSync().loadSync(new Uint8Array(3))),
    };
    for (const [entry, e] of Object.entries(errors)) {
      expect(main.isEdgeRnnError(e), entry).toBe(true);
      expect(e instanceof main.EdgeRnnError, entry).toBe(true);
      expect(lean.isEdgeRnnError(e), entry).toBe(true);
      expect(e instanceof leanCjs.EdgeRnnError, entry).toBe(true);
    }
    expect(main.isEdgeRnnError(errors.gateway, 'GATEWAY_CONFIG')).toBe(true);
    expect(main.isEdgeRnnError(errors.runtime, 'ERN_BAD_MAGIC')).toBe(true); // three zero bytes: not an .ern file
  });

  it('other errors are not EdgeRnnErrors', async () => {
    const main = (await import(dist('index.js'))) as Main;
    for (const e of [new Error('x'), { code: 'ERN_TRUNCATED', name: 'EdgeRnnError' }, null, 'EdgeRnnError', undefined]) {
      expect(main.isEdgeRnnError(e)).toBe(false);
      expect(e instanceof main.EdgeRnnError).toBe(false);
    }
    // A subclass keeps the ordinary test: a plain EdgeRnnError is not one of it.
    class SubError extends main.EdgeRnnError {}
    expect(new SubError('INVALID_ARGUMENT', 'x') instanceof SubError).toBe(true);
    expect(new main.EdgeRnnError('INVALID_ARGUMENT', 'x') instanceof SubError).toBe(false);
    expect(new SubError('INVALID_ARGUMENT', 'x') instanceof main.EdgeRnnError).toBe(true);
  });
});
