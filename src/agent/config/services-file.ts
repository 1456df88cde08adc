// --services-file: the services and upstreams of a host in YAML or JSON, for
// hosts with more than a flag's worth. Same shapes as the flags:
//
//   services:
//     - name: web
//       id: web-1          # optional: several instances on one host need their own
//       port: 8080
//       check: http://127.0.0.1:8080/health   # or tcp:HOST:PORT, ttl:15s
//       interval: 10s
//       timeout: 2s
//       tags: [v1]
//       meta: { version: v1 }
//       weight: 1
//   upstreams:
//     - { name: db, local_port: 9191 }

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseGoDuration } from '../../lib/duration.ts';
import { MeshError } from '../../lib/errors.ts';
import { describeIssues, portField } from './agent-config.ts';
import { parseCheckSpec, validateName, type ServiceSpec, type UpstreamSpec } from './service-spec.ts';

const duration = z.string().refine((s) => (parseGoDuration(s) ?? 0) > 0, 'must be a duration such as 10s');

const fileSchema = z.strictObject({
  services: z
    .array(
      z.strictObject({
        id: z.string().optional(),
        name: z.string(),
        port: portField(),
        address: z.string().optional(),
        check: z.string().optional(),
        interval: duration.optional(),
        timeout: duration.optional(),
        tags: z.array(z.string()).optional(),
        meta: z.record(z.string(), z.string()).optional(),
        weight: z.number().int().min(1).max(65535).optional(),
      }),
    )
    .default([]),
  upstreams: z.array(z.strictObject({ name: z.string(), local_port: portField(), as: z.string().optional() })).default([]),
});

export function readServicesFile(path: string): { services: ServiceSpec[]; upstreams: UpstreamSpec[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MeshError('MESH_E_USAGE', `cannot read --services-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      hint: 'give the path of a YAML or JSON file',
    });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML is a superset of JSON
  } catch (error) {
    throw new MeshError('MESH_E_USAGE', `--services-file ${path} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { hint: 'fix the syntax' });
  }
  const result = fileSchema.safeParse(raw ?? {});
  if (!result.success) throw new MeshError('MESH_E_USAGE', `--services-file ${path}: ${describeIssues(result.error)}`, { hint: 'see meshctl join --help for the file format' });
  const services = result.data.services.map((s, i): ServiceSpec => {
    const where = `--services-file ${path}: services.${i}`;
    const intervalMs = s.interval ? parseGoDuration(s.interval) : undefined;
    const timeoutMs = s.timeout ? parseGoDuration(s.timeout) : undefined;
    return {
      id: validateName(s.id ?? s.name, `${where}.id`),
      name: validateName(s.name, where),
      port: s.port,
      address: s.address ?? '',
      tags: s.tags ?? [],
      meta: s.meta ?? {},
      weight: s.weight ?? 1,
      check: s.check ? parseCheckSpec(s.check, intervalMs, timeoutMs) : undefined,
    };
  });
  const upstreams = result.data.upstreams.map((u, i) => ({ name: validateName(u.name, `--services-file ${path}: upstreams.${i}`), localPort: u.local_port, ...(u.as !== undefined ? { as: validateName(u.as, `--services-file ${path}: upstreams.${i}.as`) } : {}) }));
  return { services, upstreams };
}
