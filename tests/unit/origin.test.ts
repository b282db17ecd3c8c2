import { describe, expect, it } from 'vitest';
import { isAllowedOrigin } from '../../server/platform/http/origin.ts';

describe('origin check', () => {
  it('allows the console itself and requests without an Origin', () => {
    expect(isAllowedOrigin('http://127.0.0.1:3000', '127.0.0.1:3000', [])).toBe(true);
    expect(isAllowedOrigin(undefined, '127.0.0.1:3000', [])).toBe(true);
  });
  it('refuses other sites, other ports, null and garbage', () => {
    expect(isAllowedOrigin('http://evil.example', '127.0.0.1:3000', [])).toBe(false);
    expect(isAllowedOrigin('http://127.0.0.1:4000', '127.0.0.1:3000', [])).toBe(false);
    expect(isAllowedOrigin('null', '127.0.0.1:3000', [])).toBe(false);
    expect(isAllowedOrigin('file://x', '127.0.0.1:3000', [])).toBe(false);
  });
  it('allows configured origins regardless of case', () => {
    expect(isAllowedOrigin('HTTPS://Console.Example', 'internal:3000', ['https://console.example'])).toBe(true);
  });
});
