import { describe, expect, it } from 'vitest';
import { displayCommand, makeArgv } from '../../server/jobs/make-argv.ts';

describe('make argv', () => {
  it('builds target then NAME=value overrides as separate arguments', () => {
    expect(makeArgv({ target: 'deploy', variables: { ENV: 'staging', MSG: 'a b' }, mayRunCommands: false }))
      .toEqual(['make', 'deploy', 'ENV=staging', 'MSG=a b']);
  });
  it('refuses option-like targets and bad names', () => {
    for (const target of ['-f', '--eval=x', 'a b', 'X=1', '$(x)', '']) {
      expect(() => makeArgv({ target, mayRunCommands: true }), target).toThrow(/not a valid target/);
    }
    expect(() => makeArgv({ target: 't', variables: { '1X': 'a' }, mayRunCommands: true })).toThrow(/not valid/);
  });
  it('refuses expansion and make-control variables unless the caller may run commands anyway', () => {
    for (const value of ['$(shell id)', '`id`', 'a;b', 'a|b', '${HOME}', "'"]) {
      expect(() => makeArgv({ target: 't', variables: { V: value }, mayRunCommands: false }), value).toThrow(/expand/);
      expect(makeArgv({ target: 't', variables: { V: value }, mayRunCommands: true })).toContain(`V=${value}`);
    }
    expect(() => makeArgv({ target: 't', variables: { MAKEFLAGS: 'x' }, mayRunCommands: false })).toThrow(/controls make/);
  });
  it('quotes the display form only where needed', () => {
    expect(displayCommand(['make', 'build', 'MSG=a b', "Q=it's"])).toBe(`make build 'MSG=a b' 'Q=it'\\''s'`);
  });
});
