/** Editing .ern files in tests: a new manifest over the same tensor data, resealed. */
import { resealErn } from '../../src/index.js';

/** Rebuilds a file with an edited manifest (tensor data untouched) and a valid checksum. */
export function withManifest(bytes: Uint8Array, edit: (m: Record<string, any>) => void): Uint8Array {
  return withManifestText(bytes, (text) => {
    const m = JSON.parse(text);
    edit(m);
    return JSON.stringify(m);
  });
}

/** withManifest on the manifest's JSON text (for JSON that JSON.stringify cannot write). */
export function withManifestText(bytes: Uint8Array, edit: (text: string) => string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const mOff = dv.getUint32(16, true);
  const mLen = dv.getUint32(20, true);
  const dOff = dv.getUint32(24, true);
  const dLen = dv.getUint32(28, true);
  const json = new TextEncoder().encode(edit(new TextDecoder().decode(bytes.subarray(mOff, mOff + mLen))));
  const newD = Math.ceil((64 + json.length) / 64) * 64;
  const out = new Uint8Array(newD + dLen);
  out.set(bytes.subarray(0, 64));
  const odv = new DataView(out.buffer);
  odv.setUint32(20, json.length, true);
  odv.setUint32(24, newD, true);
  out.set(json, 64);
  out.set(bytes.subarray(dOff, dOff + dLen), newD);
  return resealErn(out);
}
