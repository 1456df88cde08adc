// What every check returns: one line's worth of verdict, in one of three
// groups, with a hint whenever the operator has something to do.

export type CheckStatus = 'pass' | 'fail' | 'warn';
export type CheckGroup = 'server' | 'host' | 'agent';

export interface CheckResult {
  readonly group: CheckGroup;
  readonly name: string;
  readonly status: CheckStatus;
  /** What was seen: shown on the line of a pass, under a failure or warning. */
  readonly detail: string;
  /** How to fix it; null for a pass. */
  readonly hint: string | null;
}

/** A verdict without its group and name: what the pure evaluators return. */
export interface Verdict {
  readonly status: CheckStatus;
  readonly detail: string;
  readonly hint: string | null;
}

export const passed = (detail: string): Verdict => ({ status: 'pass', detail, hint: null });
export const failed = (detail: string, hint: string): Verdict => ({ status: 'fail', detail, hint });
export const warned = (detail: string, hint: string): Verdict => ({ status: 'warn', detail, hint });

export const named = (group: CheckGroup, name: string, verdict: Verdict): CheckResult => ({ group, name, ...verdict });
