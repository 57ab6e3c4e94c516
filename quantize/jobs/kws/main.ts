#!/usr/bin/env node
/** Node-only entry point of `npm run train:kws` (see cli.ts). */
import { runCli } from '../../../src/cli/framework.js';
import { trainKwsCommand } from './cli.js';

process.exitCode = await runCli(['train-kws', ...process.argv.slice(2)], [trainKwsCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
