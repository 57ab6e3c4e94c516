import { describe, expect, it } from 'vitest';
import { formatNumber, scalarLeaves, summarize } from '../../src/cli/summary.js';

describe('one-glance summaries (edgernn info)', () => {
  it('lists scalar leaves breadth first, with long prose after every other value', () => {
    const protocol = 'leave-subjects-out, 8 folds by volunteer, every recording predicted once';
    const metrics = {
      protocol,
      int8: { recording: { accuracy: 0.86192, perClass: { walk: { recall: 0.87 } } } },
      bestEpoch: 23,
    };
    expect(scalarLeaves(metrics)).toEqual([
      'bestEpoch 23',
      'int8.recording.accuracy 0.8619',
      'int8.recording.perClass.walk.recall 0.87',
      `protocol ${protocol.slice(0, 59)}…`,
    ]);
  });

  it('shows short numeric arrays and named entries inline, leaves out the rest', () => {
    const fe = { kind: 'imu', channels: [{ name: 'ax' }, { name: 'ay' }], mean: [0.123456, -1], history: Array.from({ length: 30 }, (_, i) => i), none: null };
    expect(scalarLeaves(fe)).toEqual(['kind imu', 'channels [ax, ay]', 'mean [0.1235, -1]', 'none null']);
  });

  it('keeps digests whole and cuts other long strings', () => {
    const sha = 'a'.repeat(64);
    expect(scalarLeaves({ sha, note: 'x'.repeat(100) }, 20)).toEqual([`sha ${sha}`, `note ${'x'.repeat(19)}…`]);
  });

  it('wraps pairs into lines of the given width and counts what it leaves out', () => {
    const v = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    const lines = summarize(v, { width: 30, maxLines: 2 });
    expect(lines).toHaveLength(3);
    for (const l of lines.slice(0, 2)) expect(l.length).toBeLessThanOrEqual(30);
    expect(lines[0]).toBe('k0 0, k1 1, k2 2, k3 3, k4 4');
    const shown = lines.slice(0, 2).join(', ').split(', ').length;
    expect(lines[2]).toBe(`… ${20 - shown} more (--json for all)`);
    expect(summarize({ a: 1 })).toEqual(['a 1']);
    expect(summarize({})).toEqual([]);
  });

  it('formats numbers to four significant digits, integers and non-finite values as they are', () => {
    expect(formatNumber(0.000001)).toBe('0.000001');
    expect(formatNumber(1234.5678)).toBe('1235');
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });
});

describe('values summarize cannot show inline', () => {
  it('are counted in the "more" line, never dropped silently (a 30-value array vanished)', () => {
    const history = Array.from({ length: 30 }, (_, i) => i);
    expect(summarize({ a: 1, history })).toEqual(['a 1', '… 1 more (--json for all)']);
    expect(summarize({ a: 1, rows: [{ x: 1 }, { x: 2 }], nested: { h: history } })).toEqual(['a 1', '… 2 more (--json for all)']);
    const v = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    const lines = summarize({ ...v, history }, { width: 30, maxLines: 2 });
    const shown = lines.slice(0, 2).join(', ').split(', ').length;
    expect(lines[2]).toBe(`… ${20 - shown + 1} more (--json for all)`);
  });
});
