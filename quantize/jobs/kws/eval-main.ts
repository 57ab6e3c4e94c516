#!/usr/bin/env node
/** Node-only entry point of `npm run eval:kws` (see cli.ts). */
import { runCli } from '../../../src/cli/framework.js';
import { evalKwsCommand } from './cli.js';

process.exitCode = await runCli(['eval-kws', ...process.argv.slice(2)], [evalKwsCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
