import type { Command } from '../framework.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { conformanceCommand } from './conformance.js';
import { convertCommand } from './convert.js';
import { exportCommand } from './export.js';
import { gatewayCommand } from './gateway.js';
import { infoCommand } from './info.js';
import { recordCommand } from './record.js';
import { replayCommand } from './replay.js';
import { runCommand } from './run.js';

/** Commands of the gateway-side runtime. Desktop commands (train, prune, ...) live in quantize/cli. */
export const runtimeCommands: readonly Command[] = [infoCommand, runCommand, benchCommand, demoCommand, convertCommand, exportCommand, conformanceCommand, gatewayCommand, recordCommand, replayCommand];
