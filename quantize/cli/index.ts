import type { Command } from '../../src/cli/framework.js';
import { evalCommand } from './eval.js';
import { pruneCommand } from './prune.js';
import { quantizeCommand } from './quantize.js';
import { nabCommand } from './nab.js';
import { trainCommand } from './train.js';
import { dataKwsCommand } from '../data/kws/cli.js';
import { evalKwsCommand, trainKwsCommand, tuneKwsCommand } from '../jobs/kws/cli.js';
import { harCommand } from '../jobs/har/cli.js';

/** Desktop-side commands (train, prune, quantize, eval, nab...). Registered in bin/edgernn.ts. */
export const desktopCommands: readonly Command[] = [trainCommand, evalCommand, quantizeCommand, pruneCommand, nabCommand, dataKwsCommand, trainKwsCommand, evalKwsCommand, tuneKwsCommand, harCommand];
