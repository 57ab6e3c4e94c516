/** Placeholder replaced in stage 6. */
export async function writeRunReport(_o: unknown): Promise<string> {
  throw new Error('report not implemented yet');
}
