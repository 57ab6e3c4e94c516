/**
 * Pruning and quantization-aware fine-tuning of a model that went to ONNX and back (`edgernn
 * export`, then `edgernn convert`): the conversion keeps the trained model's record as
 * `training.original`, and both must fine-tune with that model's hyperparameters, as they do the
 * model before the round trip.
 */
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/index.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx, onnxToSpec } from '../../src/onnx/import.js';
import { firstStepsTask } from '../../quantize/data/synthetic.js';
import { pruneModel } from '../../quantize/prune/prune-model.js';
import { quantizationAwareFineTune } from '../../quantize/quant/qat.js';
import { trainModel } from '../../quantize/train/train-model.js';

describe('pruning a model converted back from its ONNX export', () => {
  it("fine-tunes with the trained model's hyperparameters (training.original), not the defaults", () => {
    const data = firstStepsTask({ count: 40, steps: 8, seed: 3 });
    // batchSize 5: 8 optimizer steps per epoch over 40 sequences; the default 32 gives 2.
    const trained = trainModel({ data, val: data, options: { task: 'classify', hidden: 8, epochs: 1, batchSize: 5 } }).spec;
    const once = onnxToSpec(importOnnx(exportOnnx(trained)));
    const twice = onnxToSpec(importOnnx(exportOnnx(decodeModel(encodeModel(once)).spec)));
    expect(twice.training.hyperparameters).toBeUndefined();
    // One level however many round trips: the trained model's record, not a conversion of a conversion.
    const original = twice.training.original as Record<string, unknown>;
    expect(original.hyperparameters).toEqual(once.training.original && (once.training.original as Record<string, unknown>).hyperparameters);
    expect(original.original).toBeUndefined();
    for (const spec of [trained, once, twice]) {
      let perEpoch = 0;
      pruneModel(spec, data, { sparsity: 0.5, epochs: 1, minWeights: 1 }, data, { afterStep: (_s, _e, n) => (perEpoch = n) });
      expect(perEpoch).toBe(8);
      // QAT the same (`edgernn quantize --qat-epochs` fine-tuned a converted model with batch 32).
      let qatPerEpoch = 0;
      quantizationAwareFineTune(spec, data, { epochs: 1, calibration: { method: 'minmax' }, valSplit: 0 }, { afterStep: (_s, _e, n) => (qatPerEpoch = n) });
      expect(qatPerEpoch).toBe(8);
    }
  });
});
