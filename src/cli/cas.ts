// Check-and-set edits from the CLI: read, edit, write back with ?cas=N; a
// lost race (409) is tried again on top of the winning write, after a short
// jittered wait so writers that lost together do not race again in step.

import { MeshError } from '../lib/errors.ts';

/** Enough for a handful of writers racing on one entry to all get through. */
export const CAS_ATTEMPTS = 20;

export const lostCas = (error: unknown): boolean => error instanceof MeshError && error.code === 'MESH_E_CONFLICT';

export const casBackoff = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 10)));
