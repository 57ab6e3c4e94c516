/**
 * Node-only (reads the file system): finds and reads ONNX node-test folders for the
 * conformance runner. Not exported from src/index.ts, which stays browser-safe.
 *
 *   <DIR>/<test>/model.onnx
 *   <DIR>/<test>/test_data_set_<N>/input_<K>.pb, output_<K>.pb
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeTestCase } from './conformance.js';

/** Numeric order: input_2.pb before input_10.pb. */
function numbered(dir: string, prefix: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb') && /^\d+$/.test(f.slice(prefix.length, -3)))
    .sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)));
}

/** Reads one test folder (model.onnx + test_data_set_*). */
export function readNodeTestDir(dir: string): NodeTestCase {
  const dataSets = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith('test_data_set_') && fs.statSync(path.join(dir, n)).isDirectory())
    .sort((a, b) => parseInt(a.slice(14)) - parseInt(b.slice(14)))
    .map((n) => {
      const d = path.join(dir, n);
      const read = (p: string) => numbered(d, p).map((f) => new Uint8Array(fs.readFileSync(path.join(d, f))));
      return { name: n, inputs: read('input_'), outputs: read('output_') };
    });
  return { name: path.basename(dir), model: new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx'))), dataSets };
}

/** Every folder under root (root itself included) that holds a model.onnx, sorted by path. */
export function findNodeTests(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (fs.existsSync(path.join(d, 'model.onnx'))) {
      out.push(d);
      return;
    }
    if (depth > 4) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(d, e.name), depth + 1);
  };
  walk(root, 0);
  return out.sort();
}
