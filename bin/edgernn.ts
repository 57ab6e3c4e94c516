#!/usr/bin/env node
/**
 * The `edgernn` executable: the composition root that joins the gateway-side commands (src/cli)
 * with the desktop commands (quantize/cli). src/ itself never imports quantize/.
 */
import { runCli } from '../src/cli/framework.js';
import { runtimeCommands } from '../src/cli/commands/index.js';
import { desktopCommands } from '../quantize/cli/index.js';

const commands = [...runtimeCommands, ...desktopCommands];
const code = await runCli(process.argv.slice(2), commands, { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
process.exitCode = code;
