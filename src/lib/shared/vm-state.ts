import type { VmAction, VmState, VmStatus } from './vms.ts';

/**
 * The VM state machine as data (no pg, no provider). Two questions are answered here:
 *
 * - May a user ask for an action now? One VM's actions run one at a time in the order they
 *   were asked for, so the answer looks at the state the VM will be in once everything
 *   already queued has run (a stop asked while it provisions is accepted and runs after).
 * - When a worker carries an action out: from which states (the compare-and-set guard of
 *   `UPDATE … WHERE state = ANY($from)`), which state marks it in progress, and where it
 *   ends on success or failure. A zero-row CAS is a conflict, never a silent overwrite.
 */
export interface ActionRule {
  /** States (after everything queued) in which a user may ask for it. */
  requestFrom: readonly VmState[];
  /** States the worker's CAS accepts when it starts carrying it out. */
  executeFrom: readonly VmState[];
  /** The state while it runs. */
  during: VmState;
  /** Where it ends when the provider succeeded. */
  done: VmState;
  /** Where it ends when it failed for good (retries exhausted). */
  failed: VmState;
}

const EVERY_LIVE_STATE: readonly VmState[] = ['requested', 'provisioning', 'starting', 'running', 'stopping', 'stopped', 'destroying', 'error'];

export const ACTION_RULES: Record<VmAction, ActionRule> = {
  // Asked once, by admission, which inserts the VM as `requested`.
  create: { requestFrom: [], executeFrom: ['requested'], during: 'provisioning', done: 'running', failed: 'error' },
  start: { requestFrom: ['stopped', 'error'], executeFrom: ['stopped', 'error'], during: 'starting', done: 'running', failed: 'error' },
  stop: { requestFrom: ['running'], executeFrom: ['running'], during: 'stopping', done: 'stopped', failed: 'error' },
  restart: { requestFrom: ['running'], executeFrom: ['running'], during: 'stopping', done: 'running', failed: 'error' },
  // From every state: a VM stuck half-way must always be deletable.
  destroy: { requestFrom: EVERY_LIVE_STATE, executeFrom: EVERY_LIVE_STATE, during: 'destroying', done: 'destroyed', failed: 'error' },
};

/** States in which the VM is between two resting states (something is being done to it). */
export const TRANSITIONAL_STATES: readonly VmState[] = ['requested', 'provisioning', 'starting', 'stopping', 'destroying'];

export const isTransitional = (s: VmState) => TRANSITIONAL_STATES.includes(s);

/** The state the VM will rest in once the action in flight and every queued one have succeeded. */
export function projectedState(state: VmState, inFlight: VmAction | null, queued: readonly VmAction[]): VmState {
  let s = state;
  for (const action of inFlight ? [inFlight, ...queued] : queued) s = ACTION_RULES[action].done;
  return s;
}

export type RequestCheck = { ok: true } | { ok: false; reason: string };

/** Whether a user may ask for `action` now; the reason names the state the check was made against. */
export function checkRequest(action: VmAction, state: VmState, inFlight: VmAction | null, queued: readonly VmAction[]): RequestCheck {
  if (action === 'create') return { ok: false, reason: 'a VM is created once, by admission' };
  const pending = inFlight ? [inFlight, ...queued] : [...queued];
  if (pending.includes('destroy')) return { ok: false, reason: 'the VM is already being destroyed' };
  const projected = projectedState(state, inFlight, queued);
  if (ACTION_RULES[action].requestFrom.includes(projected)) return { ok: true };
  const when = pending.length ? ` once the ${pending.join(', then ')} already asked for has run` : '';
  return { ok: false, reason: `cannot ${action} a VM that is ${projected}${when}` };
}

/** The badge for a VM: its state, or what is being done to it, and what waits behind. */
export function vmStatus(state: VmState, inFlight: VmAction | null, queued: readonly VmAction[]): VmStatus {
  const tone: VmStatus['tone'] =
    state === 'error' ? 'bad'
      : state === 'running' && !inFlight ? 'ok'
        : state === 'stopped' || state === 'destroyed' ? (inFlight ? 'busy' : 'off')
          : 'busy';
  const shown = inFlight && !isTransitional(state) ? ACTION_RULES[inFlight].during : state;
  const label = queued.length ? `${shown} · ${queued.join(', ')} queued` : shown;
  return { state, inFlight, queued: [...queued], label, tone };
}
