/**
 * `edgernn record` in its own process, for the signal tests: `node --import tsx child-record.ts <record flags>`.
 */
import { runCli } from '../../src/cli/framework.js';
import { recordCommand } from '../../src/cli/commands/record.js';

process.exitCode = await runCli(['record', ...process.argv.slice(2)], [recordCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
