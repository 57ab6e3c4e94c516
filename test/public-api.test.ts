/**
 * The entry points of the public package (src/index.ts) called from JavaScript with arguments of
 * the wrong kind: each names what it takes and what it got (INVALID_ARGUMENT), never a TypeError
 * from deep inside; and every reader of file bytes takes an ArrayBuffer (fetch's) as well as a
 * Uint8Array.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as edgernn from '../src/index.js';
import { randomQuantModel } from './helpers/random-model.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const buffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer;

function invalid(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(edgernn.isEdgeRnnError(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('readers of file bytes', () => {
  const ern = new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/har.ern')));
  const onnx = edgernn.exportOnnx(edgernn.decodeModel(ern).spec);
  const npy = edgernn.writeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const wav = edgernn.encodeWav(new Float32Array([0, 0.5, -0.5]), 16000);

  it('take an ArrayBuffer and give what they give for the Uint8Array', () => {
    expect(edgernn.decodeModel(buffer(ern)).spec).toEqual(edgernn.decodeModel(ern).spec);
    expect(edgernn.decodeModelProto(buffer(onnx))).toEqual(edgernn.decodeModelProto(onnx));
    expect(edgernn.importOnnx(buffer(onnx)).outputs.map((o) => o.name)).toEqual(edgernn.importOnnx(onnx).outputs.map((o) => o.name));
    expect(edgernn.readNpy(buffer(npy))).toEqual(edgernn.readNpy(npy));
    expect(edgernn.readWav(buffer(wav))).toEqual(edgernn.readWav(wav));
    expect(edgernn.readWavMono(buffer(wav))).toEqual(edgernn.readWavMono(wav));
    expect(edgernn.readWavInfo(buffer(wav))).toEqual(edgernn.readWavInfo(wav));
  });

  it('name anything else', () => {
    expect(invalid(() => edgernn.decodeModel(undefined as never))).toBe("model.ern: decodeModel() takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got undefined");
    expect(invalid(() => edgernn.importOnnx(null as never, { source: 'm.onnx' }))).toBe("m.onnx: importOnnx() takes the file's bytes (a Uint8Array, Buffer or ArrayBuffer), got null");
    expect(invalid(() => edgernn.decodeModelProto('model.onnx' as never))).toMatch(/decodeModelProto\(\) takes the file's bytes .*, got string$/);
    expect(invalid(() => edgernn.readNpy([1, 2] as never))).toMatch(/readNpy\(\) takes the file's bytes .*, got an array$/);
    expect(invalid(() => edgernn.readWav({ data: wav } as never))).toMatch(/readWav\(\) takes the file's bytes .*, got a Object$/);
    expect(invalid(() => edgernn.readWavMono(undefined as never))).toMatch(/readWav\(\) takes the file's bytes .*, got undefined$/);
  });
});

describe('calibration', () => {
  it('calibrateAbsMax() without a frame is refused (every range would be 0: the int8 model would ignore its inputs)', () => {
    const { float } = randomQuantModel(4);
    for (const none of [[], [new Float32Array(0)], undefined]) {
      expect(invalid(() => edgernn.calibrateAbsMax(float, none as never))).toMatch(/calibrateAbsMax\(\) needs calibration data: a list of sequences of \d+-feature frames with at least one frame/);
    }
    expect(edgernn.calibrateAbsMax(float, [new Float32Array(0), new Float32Array(float.input.size).fill(2)]).inputAbsMax[0]).toBe(2);
  });
});

describe('functions that take a ModelSpec', () => {
  it('name what they got instead', () => {
    const { float } = randomQuantModel(4);
    for (const [call, f] of [
      ['encodeModel()', (x: unknown) => edgernn.encodeModel(x as never)],
      ['exportOnnx()', (x: unknown) => edgernn.exportOnnx(x as never)],
      ['quantizeModel()', (x: unknown) => edgernn.quantizeModel(x as never, edgernn.calibrateAbsMax(float, [new Float32Array(float.input.size).fill(1)]))],
    ] as const) {
      expect(invalid(() => f(undefined))).toBe(`${call} takes a ModelSpec ({name, version, task, labels, input, precision, layers, ...}), got undefined`);
      expect(invalid(() => f({ name: 'x' }))).toMatch(/got an object with name$/);
      expect(invalid(() => f(ernBytesOf(float)))).toMatch(/got an object with 0, 1, 2, 3, 4, 5$/);
    }
    // ... and still work with one.
    expect(edgernn.decodeModel(edgernn.encodeModel(float)).spec.name).toBe(float.name);
  });
});

function ernBytesOf(spec: edgernn.ModelSpec): Uint8Array {
  return edgernn.encodeModel(spec);
}

describe('functions that take a loaded model, a spec or an input spec', () => {
  it('name what they got when it is missing', () => {
    const cases: [string, () => unknown][] = [
      ["new HarStream() takes a loaded Model (runtime.load()), got undefined", () => new edgernn.HarStream(undefined as never)],
      ["new ForecastModelDetector() takes a loaded Model (runtime.load()), got an object with spec", () => new edgernn.ForecastModelDetector('x', { spec: {} } as never)],
      ["createKwsDetectorForModel() takes a model's spec (model.spec), got null", () => edgernn.createKwsDetectorForModel(null as never)],
      ["createFrontendForInput() takes a model's input spec (model.spec.input), got a number", () => edgernn.createFrontendForInput(3 as never)],
      ['onnxToSpec() takes the result of importOnnx(), got undefined', () => edgernn.onnxToSpec(undefined as never)],
    ];
    for (const [message, f] of cases) expect(invalid(f)).toBe(message);
  });
});
