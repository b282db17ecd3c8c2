import { describe, expect, it } from 'vitest';
import { VM_ACTIONS, VM_STATES, type VmAction, type VmState } from '../../src/lib/shared/vms.ts';
import { ACTION_RULES, checkRequest, projectedState, vmStatus } from '../../src/lib/shared/vm-state.ts';

describe('VM state machine', () => {
  // Which actions a user may ask for on an idle VM (nothing in flight or queued), state by state.
  const allowedWhenIdle: Record<VmState, VmAction[]> = {
    requested: ['destroy'],
    provisioning: ['destroy'],
    starting: ['destroy'],
    running: ['stop', 'restart', 'destroy'],
    stopping: ['destroy'],
    stopped: ['start', 'destroy'],
    destroying: ['destroy'],
    destroyed: [],
    error: ['start', 'destroy'],
  };
  for (const state of VM_STATES) {
    it(`an idle ${state} VM accepts ${allowedWhenIdle[state].join(', ') || 'nothing'}`, () => {
      const accepted = VM_ACTIONS.filter((a) => checkRequest(a, state, null, []).ok);
      expect(accepted).toEqual(allowedWhenIdle[state]);
    });
  }

  it('destroy works from every state but destroyed, so a VM stuck half-way can always be deleted', () => {
    for (const s of VM_STATES) expect(ACTION_RULES.destroy.executeFrom.includes(s)).toBe(s !== 'destroyed');
  });

  it('accepts a stop asked while the VM provisions: it runs after the create', () => {
    expect(projectedState('provisioning', 'create', [])).toBe('running');
    expect(checkRequest('stop', 'provisioning', 'create', [])).toEqual({ ok: true });
    expect(checkRequest('start', 'provisioning', 'create', [])).toMatchObject({ ok: false, reason: expect.stringMatching(/running once the create/) });
  });

  it('judges a request against the state after everything queued', () => {
    expect(projectedState('running', 'stop', ['start', 'restart'])).toBe('running');
    expect(checkRequest('start', 'running', 'stop', [])).toEqual({ ok: true });
    expect(checkRequest('stop', 'running', 'stop', [])).toMatchObject({ ok: false, reason: 'cannot stop a VM that is stopped once the stop already asked for has run' });
  });

  it('refuses anything after a destroy was asked for, and create from users', () => {
    expect(checkRequest('destroy', 'running', 'destroy', [])).toMatchObject({ ok: false, reason: /already being destroyed/ });
    expect(checkRequest('start', 'stopped', null, ['destroy'])).toMatchObject({ ok: false });
    expect(checkRequest('create', 'requested', null, [])).toMatchObject({ ok: false });
  });

  it('every action has a state while it runs and ends in a resting state or error', () => {
    for (const a of VM_ACTIONS) {
      const r = ACTION_RULES[a];
      expect(r.executeFrom.length).toBeGreaterThan(0);
      expect(['running', 'stopped', 'destroyed']).toContain(r.done);
      expect(r.failed).toBe('error');
    }
  });

  // The badge, row by row: state + in-flight action + queue → label and tone.
  const rows: Array<[VmState, VmAction | null, VmAction[], string, string]> = [
    ['requested', 'create', [], 'requested', 'busy'],
    ['provisioning', 'create', ['stop'], 'provisioning · stop queued', 'busy'],
    ['running', null, [], 'running', 'ok'],
    ['running', 'stop', [], 'stopping', 'busy'],
    ['stopping', 'stop', [], 'stopping', 'busy'],
    ['stopped', null, [], 'stopped', 'off'],
    ['stopped', 'start', [], 'starting', 'busy'],
    ['error', null, [], 'error', 'bad'],
    ['error', 'destroy', [], 'destroying', 'bad'],
    ['destroyed', null, [], 'destroyed', 'off'],
  ];
  for (const [state, inFlight, queued, label, tone] of rows) {
    it(`shows ${state}${inFlight ? ` with ${inFlight} in flight` : ''}${queued.length ? ` and ${queued} queued` : ''} as "${label}" (${tone})`, () => {
      expect(vmStatus(state, inFlight, queued)).toMatchObject({ label, tone });
    });
  }
});
