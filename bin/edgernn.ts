#!/usr/bin/env node
/**
 * The `edgernn` executable: the composition root that joins the gateway-side commands (src/cli)
 * with the desktop commands (quantize/cli), and gives `demo` its live part from firmware-sim/.
 * src/ itself never imports quantize/ or firmware-sim/.
 */
import { runCli } from '../src/cli/framework.js';
import { runtimeCommands } from '../src/cli/commands/index.js';
import { demoCommandWith } from '../src/cli/commands/demo.js';
import { desktopCommands } from '../quantize/cli/index.js';
import { liveDemo } from '../firmware-sim/demo.js';

// `edgernn demo` ends with the gateway fed by simulated devices (the simulator is not part of src/).
const commands = [...runtimeCommands.map((c) => (c.name === 'demo' ? demoCommandWith(liveDemo) : c)), ...desktopCommands];
const code = await runCli(process.argv.slice(2), commands, { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
process.exitCode = code;
