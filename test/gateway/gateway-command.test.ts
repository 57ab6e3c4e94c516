/**
 * `edgernn gateway`'s own output. The metrics URL it prints on start was `http://::1:9464/metrics`
 * for an IPv6 `metrics.httpHost`: not a URL (curl refuses it); the host is bracketed now.
 */
import { describe, expect, it } from 'vitest';
import { metricsUrl } from '../../src/cli/commands/gateway.js';

describe('edgernn gateway output', () => {
  it('prints the metrics URL with an IPv6 host in brackets', () => {
    expect(metricsUrl('::1', 9464)).toBe('http://[::1]:9464/metrics');
    expect(metricsUrl('::', 9464)).toBe('http://[::]:9464/metrics');
    expect(metricsUrl('127.0.0.1', 9464)).toBe('http://127.0.0.1:9464/metrics');
    expect(metricsUrl('gw.local', 80)).toBe('http://gw.local:80/metrics');
    expect(() => new URL(metricsUrl('fe80::1', 1))).not.toThrow();
  });
});
