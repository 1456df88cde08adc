// mesh: the mesh-wide settings, one entry named "mesh". For now the default
// policy: what a call no intention decides gets. A new mesh (no entry)
// denies: opening the mesh is a decision an operator makes, with
// `meshctl config set mesh default_policy=allow`.

import { z } from 'zod';
import { deepFreeze, oneOf, settingsFor, type Checked, type SettingKey } from './kind.ts';

export const POLICIES = ['allow', 'deny'] as const;
export type Policy = (typeof POLICIES)[number];

const kit = settingsFor(() => meshSchema, { policy: 'default_policy', default: 'default_policy', default_action: 'default_policy', defaultpolicy: 'default_policy' });

export const OUTBOUND_POLICIES = ['allow_any', 'registry_only'] as const;

export const meshSchema = kit.group([], {
  default_policy: oneOf(POLICIES).optional(),
  /** Transparent mode: a redirected connection to no mesh service passes through (allow_any) or is refused. */
  outbound_policy: oneOf(OUTBOUND_POLICIES).optional(),
});

export type StoredMesh = z.infer<typeof meshSchema>;

export const MESH_DEFAULTS = deepFreeze({ default_policy: 'deny', outbound_policy: 'allow_any' } satisfies StoredMesh);

/** The one entry's name. */
export const MESH_ENTRY_NAME = 'mesh';

export const checkMesh = (input: unknown): Checked<StoredMesh> => kit.check<StoredMesh>(input);

export const withMeshDefaults = (stored: StoredMesh | undefined): Required<StoredMesh> =>
  deepFreeze({ default_policy: stored?.default_policy ?? MESH_DEFAULTS.default_policy, outbound_policy: stored?.outbound_policy ?? MESH_DEFAULTS.outbound_policy });

/** The mesh kind as the CLI's and the API's kind tables take it. */
export const meshKind = Object.freeze({
  kind: 'mesh',
  nameRule: /^mesh$/,
  nameHelp: 'mesh (the mesh-wide settings are one entry, named mesh)',
  check: checkMesh,
  applySetters: kit.applySetters,
  withDefaults: withMeshDefaults,
  keys: Object.freeze(kit.describeKeys(withMeshDefaults(undefined))) as readonly SettingKey[],
  singleName: MESH_ENTRY_NAME,
});
