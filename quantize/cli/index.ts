import type { Command } from '../../src/cli/framework.js';

/** Desktop-side commands (train, prune, quantize, eval, nab...). Registered in bin/edgernn.ts. */
export const desktopCommands: readonly Command[] = [];
