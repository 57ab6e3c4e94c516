#!/usr/bin/env node
/** Node-only entry point of `npm run tune:kws` (see cli.ts). */
import { runCli } from '../../../src/cli/framework.js';
import { tuneKwsCommand } from './cli.js';

process.exitCode = await runCli(['tune-kws', ...process.argv.slice(2)], [tuneKwsCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
