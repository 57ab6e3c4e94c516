/**
 * A model's manifest through ONNX metadata_props: export writes it, convert restores it, ONNX's
 * own Python package (Debian's python3-onnx, when present) checks the exported files and writes
 * metadata of its own that convert reads; bad metadata is ignored with a note, never trusted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCommand } from '../../src/cli/commands/convert.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { runCommand } from '../../src/cli/commands/run.js';
import { createFrontendForInput } from '../../src/features/registry.js';
import { decodeModel } from '../../src/model/codec.js';
import { type ModelSpec } from '../../src/model/spec.js';
import { exportOnnx, exportOnnxModel } from '../../src/onnx/export.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { METADATA_KEY, readSpecMetadata, specMetadata } from '../../src/onnx/metadata.js';
import { decodeModelProto, encodeModelProto, type ModelProto } from '../../src/onnx/proto.js';
import { runCaptured } from '../helpers/cli.js';
import { REPO, ortSession, randomSpec } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-onnx-meta-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const shipped = (name: string): ModelSpec => decodeModel(new Uint8Array(fs.readFileSync(path.join(REPO, 'models', `${name}.ern`))), `${name}.ern`).spec;

/** The spec convert makes of ONNX bytes, and its notes. */
function convert(bytes: Uint8Array, opts: { name?: string } = {}): { spec: ModelSpec; notes: string[] } {
  const imp = importOnnx(bytes, { source: 'm.onnx', outputs: ['Y'] });
  const notes: string[] = [];
  return { spec: onnxToSpec(imp, { ...opts, fallbackName: 'file-name', notes }), notes };
}

/** The exported model with its metadata value replaced. */
function withMetadata(spec: ModelSpec, value: string | null, times = 1): Uint8Array {
  const m: ModelProto = exportOnnxModel(spec);
  m.metadataProps = value === null ? [] : Array.from({ length: times }, () => ({ key: METADATA_KEY, value }));
  return encodeModelProto(m);
}

const metaOf = (spec: ModelSpec): Record<string, unknown> => JSON.parse(specMetadata(spec).value) as Record<string, unknown>;

describe('ONNX metadata: export -> convert keeps what the model is', () => {
  it.each(['kws', 'har', 'anomaly'])('models/%s.ern: name, version, task, labels, input spec and extra come back', (name) => {
    const orig = shipped(name);
    const bytes = exportOnnx(orig);
    const proto = decodeModelProto(bytes);
    expect(proto.metadataProps.map((e) => e.key)).toEqual([METADATA_KEY]);
    const { spec, notes } = convert(bytes);
    expect(spec.name).toBe(orig.name);
    expect(spec.version).toBe(orig.version);
    expect(spec.task).toBe(orig.task);
    expect(spec.labels).toEqual(orig.labels);
    expect(spec.input).toEqual(orig.input);
    expect(spec.description).toBe(orig.description);
    const { onnx, ...extra } = spec.extra!;
    expect(extra).toEqual(orig.extra ?? {});
    expect(onnx).toMatchObject({ input: 'X', output: 'Y' });
    expect(spec.training).toMatchObject({ source: 'onnx', producer: 'edgernn 0.1.0', original: orig.training });
    expect(notes.filter((n) => n.includes(METADATA_KEY))).toEqual([expect.stringMatching(/^restored from ONNX metadata 'edgernn\.manifest': name '.+', version \d/)]);
    // The restored front end is one the runtime builds, with the model's width.
    expect(createFrontendForInput(spec.input).featureSize).toBe(spec.input.size);
  });

  it('onnxruntime-node still loads the file; a graph without metadata converts as before', async () => {
    const spec = randomSpec(11, { maxLayers: 2 });
    await expect(ortSession(exportOnnx(spec))).resolves.toBeDefined();
    const bare = convert(withMetadata(spec, null));
    expect(bare.notes.some((n) => n.includes(METADATA_KEY))).toBe(false);
    expect(bare.spec).toMatchObject({ name: 'file-name', version: '1.0.0', task: 'custom', labels: [], input: { size: spec.input.size, frontend: { kind: 'none' } } });
    expect(bare.spec.training.original).toBeUndefined();
  });

  it('--name wins over the metadata name, which wins over the file name', () => {
    const orig = shipped('har');
    expect(convert(exportOnnx(orig), { name: 'mine' }).spec.name).toBe('mine');
    expect(convert(exportOnnx(orig)).spec.name).toBe('har');
  });

  it("a model that was itself imported does not carry its old extra.onnx into the new file's metadata", () => {
    const spec = { ...randomSpec(5, { maxLayers: 1 }), extra: { onnx: { input: 'old' }, keep: 1 } };
    expect(metaOf(spec).extra).toEqual({ keep: 1 });
  });
});

describe('ONNX metadata that fails a check is ignored as a whole, with a note naming the defect', () => {
  const orig = shipped('har');
  const good = metaOf(orig);
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"name": ', /not JSON/],
    ['an array', '[1, 2]', /expected a JSON object, got an array/],
    ['another format', JSON.stringify({ ...good, format: 'other' }), /format must be "edgernn\.onnx-metadata", got "other"/],
    ['a newer format version', JSON.stringify({ ...good, formatVersion: 2 }), /formatVersion 2, this edgernn reads 1/],
    ['labels not matching the output size', JSON.stringify({ ...good, labels: ['a', 'b'] }), /manifest\.labels must be empty or 9 labels \(the output size\), got 2/],
    ['labels that are not strings', JSON.stringify({ ...good, labels: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), /manifest\.labels must be an array of strings/],
    ['an input size the graph does not have', JSON.stringify({ ...good, input: { size: 4, frontend: { kind: 'none' } } }), /input\.size is 4, the graph's input has 3 features/],
    ['a front end of another width', JSON.stringify({ ...good, input: { ...(good.input as object), frontend: { kind: 'none', channels: 5 } } }), /manifest\.input\.frontend: none front end gives 5 features per frame, the model's input size is 3/],
    ['an unknown front end', JSON.stringify({ ...good, input: { size: 3, frontend: { kind: 'sonar' } } }), /manifest\.input\.frontend/],
    ['a bad version', JSON.stringify({ ...good, version: 'one' }), /manifest\.version must be a semantic version/],
    ['an unknown task', JSON.stringify({ ...good, task: 'fly' }), /manifest\.task must be one of/],
    ['a description that is not a string', JSON.stringify({ ...good, description: 7 }), /manifest\.description must be a string, got 7/],
    ['extra that is not an object', JSON.stringify({ ...good, extra: [1] }), /manifest\.extra must be an object/],
  ];
  it.each(cases)('%s', (_what, value, reason) => {
    const { spec, notes } = convert(withMetadata(orig, value));
    const note = notes.find((n) => n.includes(METADATA_KEY));
    expect(note).toMatch(/^ONNX metadata 'edgernn\.manifest' ignored: /);
    expect(note).toMatch(reason);
    // Nothing of it was used.
    expect(spec).toMatchObject({ name: 'file-name', version: '1.0.0', task: 'custom', labels: [], input: { size: 3, frontend: { kind: 'none' } } });
    expect(Object.keys(spec.extra!)).toEqual(['onnx']);
  });

  it('the key twice', () => {
    const r = readSpecMetadata(decodeModelProto(withMetadata(orig, specMetadata(orig).value, 2)), 3, 9, 'm.onnx');
    expect(r).toEqual({ info: null, note: "ONNX metadata 'edgernn.manifest' ignored: the key appears 2 times" });
  });

  it('metadata_props that are not key/value messages are ONNX_PARSE errors', () => {
    const bytes = withMetadata(orig, 'x');
    // metadata_props is field 14 (tag 0x72); make its key field (tag 0x0a) a varint (0x08).
    const at = bytes.findIndex((b, i) => b === 0x72 && bytes[i + 2] === 0x0a);
    expect(at).toBeGreaterThan(0);
    const bad = bytes.slice();
    bad[at + 2] = 0x08;
    expect(() => decodeModelProto(bad, 'm.onnx')).toThrow(/malformed ONNX protobuf.*key/);
  });
});

const python = spawnSync('/usr/bin/python3', ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
describe.skipIf(python.status !== 0)(`ONNX's Python package (onnx ${python.stdout.trim()})`, () => {
  it('accepts every exported file (checker with shape inference) and reads the same metadata', () => {
    const files = ['kws', 'har', 'anomaly'].map((n) => {
      const f = path.join(tmp, `${n}.onnx`);
      fs.writeFileSync(f, exportOnnx(shipped(n)));
      return f;
    });
    const r = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import json, onnx, sys\nfor f in sys.argv[1:]:\n  m = onnx.load(f)\n  onnx.checker.check_model(m, full_check=True)\n  print(json.dumps({p.key: p.value for p in m.metadata_props}))', ...files],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const read = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(read.map((p) => Object.keys(p))).toEqual([[METADATA_KEY], [METADATA_KEY], [METADATA_KEY]]);
    expect(read.map((p) => (JSON.parse(p[METADATA_KEY]!) as { labels: string[] }).labels)).toEqual(['kws', 'har', 'anomaly'].map((n) => shipped(n).labels));
  });

  it('metadata written by onnx.helper.set_model_props is read by convert', async () => {
    const orig = shipped('har');
    const src = path.join(tmp, 'bare.onnx');
    const dst = path.join(tmp, 'python.onnx');
    fs.writeFileSync(src, withMetadata(orig, null));
    const value = JSON.stringify({ ...metaOf(orig), name: 'from-python', labels: orig.labels.map((l) => l.toUpperCase()) });
    const r = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import onnx, sys\nm = onnx.load(sys.argv[1])\nonnx.helper.set_model_props(m, {"author": "someone", sys.argv[3]: sys.argv[4]})\nonnx.save(m, sys.argv[2])', src, dst, METADATA_KEY, value],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    const out = path.join(tmp, 'python.ern');
    const c = await runCaptured(['convert', dst, '-o', out, '--float', '--json'], [convertCommand, exportCommand], tmp);
    expect(c.code).toBe(0);
    expect((JSON.parse(c.out) as { notes: string[] }).notes).toContainEqual(expect.stringContaining("restored from ONNX metadata 'edgernn.manifest': name 'from-python'"));
    const spec = decodeModel(new Uint8Array(fs.readFileSync(out)), out).spec;
    expect(spec.name).toBe('from-python');
    expect(spec.labels).toEqual(orig.labels.map((l) => l.toUpperCase()));
    expect(spec.input.frontend).toEqual(orig.input.frontend);
  });
});

describe('the commands', () => {
  it('export prints the metadata line; convert prints the note and --name overrides', async () => {
    const onnx = path.join(tmp, 'cli.onnx');
    const e = await runCaptured(['export', path.join(REPO, 'models/kws.ern'), '-o', onnx], [convertCommand, exportCommand], tmp);
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/metadata {2}edgernn\.manifest: kws 1\.0\.0, task \w+, 12 labels, mfcc front end/);
    const c = await runCaptured(['convert', onnx, '-o', path.join(tmp, 'cli.ern'), '--float', '--name', 'renamed'], [convertCommand, exportCommand], tmp);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/note {6}restored from ONNX metadata 'edgernn\.manifest': name 'kws'/);
    const spec = decodeModel(new Uint8Array(fs.readFileSync(path.join(tmp, 'cli.ern'))), 'cli.ern').spec;
    expect(spec.name).toBe('renamed');
    expect(spec.labels).toHaveLength(12);
  });

  it('run on an .onnx file (onnxruntime-web) names the model and its labels from the metadata; bad metadata gets a note', async () => {
    const har = shipped('har');
    const input = path.join(tmp, 'frames.json');
    fs.writeFileSync(input, JSON.stringify([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]));
    const run = async (bytes: Uint8Array) => {
      const f = path.join(tmp, 'run.onnx');
      fs.writeFileSync(f, bytes);
      const r = await runCaptured(['run', f, '--input', input], [runCommand], tmp);
      expect(r.code).toBe(0);
      return { json: JSON.parse(r.out) as { model: string; version?: string; labels: string[]; outputs: number[][] }, err: r.err };
    };
    const good = await run(exportOnnx(har));
    expect(good.json).toMatchObject({ model: 'har', version: har.version, backend: 'ort-web', labels: har.labels });
    expect(good.json.outputs).toHaveLength(2);
    const bare = await run(withMetadata(har, null));
    expect(bare.json).toMatchObject({ model: 'run.onnx', labels: [] });
    expect(bare.json.version).toBeUndefined();
    const bad = await run(withMetadata(har, JSON.stringify({ ...metaOf(har), labels: ['x'] })));
    expect(bad.json).toMatchObject({ model: 'run.onnx', labels: [] });
    expect(bad.err).toMatch(/note: ONNX metadata 'edgernn\.manifest' ignored: manifest\.labels must be empty or 9 labels/);
  });
});
