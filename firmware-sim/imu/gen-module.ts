/** Writes a fitted generator model as a TypeScript module (a `*.gen.ts` file, do not edit). */
import type { ImuGeneratorModel } from './model.js';

export function writeGeneratorModule(model: ImuGeneratorModel, command = 'npx tsx quantize/jobs/har/main.ts fit-generator'): string {
  return [
    '// GENERATED FILE, DO NOT EDIT.',
    `// Regenerate with: ${command}`,
    `// Fitted to ${model.source.dataset}: ${model.source.recordings} recordings of ${model.source.volunteers.length} volunteers (sha256 ${model.source.sha256}).`,
    '// Statistics only (posture PCA, motion envelope and VAR coefficients per activity): no recording is stored here.',
    "import type { ImuGeneratorModel } from './model.js';",
    '',
    `export const HMP_GENERATOR_MODEL: ImuGeneratorModel = ${formatModel(model)};`,
    '',
  ].join('\n');
}

/** JSON with two-space indentation, every array of numbers on one line (readable diffs). */
export function formatModel(model: ImuGeneratorModel): string {
  return JSON.stringify(model, null, 2).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_m, body: string) => `[${body.split(/,\s*/).join(', ')}]`);
}
