// The command line the three job examples share: `node examples/NAME.mjs INPUT [MODEL.ern] [--json]`,
// and how they report a file they cannot use (one line on stderr, exit 1, no stack trace).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEdgeRnnError } from 'edgernn';

/**
 * The example's arguments: `--help` prints the usage (exit 0); no input, an option it does not
 * know or a third file print it on stderr (exit 2). The model defaults to `defaultModel` (a URL of
 * the repository's models/), or to the installed package's copy of it in a project the example
 * was copied into.
 */
export function exampleArgs(script, input, defaultModel) {
  const args = process.argv.slice(2);
  const usage = `usage: node examples/${script}.mjs ${input} [MODEL.ern] [--json]`;
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  const positional = args.filter((a) => a !== '--json');
  const [file, modelPath = shippedModel(defaultModel)] = positional;
  if (!file || positional.length > 2 || positional.some((a) => a.startsWith('-'))) {
    console.error(usage);
    process.exit(2);
  }
  return { file, modelPath, json: args.includes('--json') };
}

/** `defaultModel` where it is (a clone, node_modules/edgernn/examples), else `edgernn/models/NAME`. */
function shippedModel(defaultModel) {
  if (fs.existsSync(defaultModel)) return defaultModel;
  try {
    return createRequire(import.meta.url).resolve(`edgernn/models/${path.basename(fileURLToPath(defaultModel))}`);
  } catch {
    return defaultModel; // not installed either: reading it names the path
  }
}

/** A file that cannot be read, or a model or input edgernn refuses: what is wrong, exit 1. */
export function fail(e, file) {
  const systemError = typeof e?.code === 'string' && typeof e.syscall === 'string'; // ENOENT, EISDIR, EACCES
  if (!systemError && !isEdgeRnnError(e)) throw e;
  console.error(systemError ? `${file}: ${e.message}` : e.message);
  process.exit(1);
}

/** fs.readFileSync, or fail(). */
export function read(file, encoding) {
  try {
    return fs.readFileSync(file, encoding);
  } catch (e) {
    fail(e, String(file));
  }
}
