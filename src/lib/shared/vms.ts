/** VM states and actions, shared by the server's state machine and the UI. */

/** A VM's state as stored (API.md). */
export const VM_STATES = [
  'requested', 'provisioning', 'starting', 'running', 'stopping', 'stopped', 'destroying', 'destroyed', 'error',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** What a user can ask of a VM; `create` is asked once, at admission. */
export const VM_ACTIONS = ['create', 'start', 'stop', 'restart', 'destroy'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

/** How a VM is shown: its state, plus what is about to happen to it. */
export interface VmStatus {
  state: VmState;
  /** The action being carried out now, if any. */
  inFlight: VmAction | null;
  /** Actions waiting behind it, in order. */
  queued: VmAction[];
  /** One line for badges: "running", "stopping", "running · stop queued". */
  label: string;
  tone: 'ok' | 'busy' | 'off' | 'bad';
}
