#!/usr/bin/env node
/** Node-only entry point of `npm run train:har` / `npm run eval:har`: runs `edgernn har <action>` (see cli.ts). */
import { runCli } from '../../../src/cli/framework.js';
import { harCommand } from './cli.js';

process.exitCode = await runCli(['har', ...process.argv.slice(2)], [harCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
