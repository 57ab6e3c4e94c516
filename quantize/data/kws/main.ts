#!/usr/bin/env node
/** Node-only entry point of `npm run data:kws`: runs the data-kws command (see cli.ts). */
import { runCli } from '../../../src/cli/framework.js';
import { dataKwsCommand } from './cli.js';

process.exitCode = await runCli(['data-kws', ...process.argv.slice(2)], [dataKwsCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
