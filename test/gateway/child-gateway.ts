/**
 * A gateway in its own process for the crash tests: `node --import tsx child-gateway.ts <gateway flags>`.
 * Runs the real `edgernn gateway` command (signals, logs, outbox on disk).
 */
import { runCli } from '../../src/cli/framework.js';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';

process.exitCode = await runCli(['gateway', ...process.argv.slice(2)], [gatewayCommand], { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
