// `meshctl tap SERVICE`: live requests to a service, sampled by the proxies
// that carry them (both the caller's and the callee's), streamed through the
// server (operators reach only the server). One line per request, or the
// server's NDJSON with --json; --max N stops after N; Ctrl-C ends it (exit 0).

import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { parseTapFilter, TAP_MAX_LIMIT, type TapEvent } from '../config/tap.ts';
import { MeshError, isMeshError } from '../lib/errors.ts';
import { parseCount } from '../lib/count.ts';
import { clientFor, withTarget, type TargetFlags } from './common.ts';
import { formatDroppedLine, formatTapLine } from './tap-line.ts';

interface TapFlags extends TargetFlags {
  pathPrefix?: string;
  method?: string;
  max?: string;
  json?: boolean;
}

export function addTapCommand(program: Command): void {
  withTarget(
    program
      .command('tap')
      .description('stream live requests to a service, as its callers\' and its own proxies see them')
      .argument('<service>', 'the service whose requests to show')
      .option('--path-prefix <prefix>', 'only requests whose path starts with this (e.g. /users)')
      .option('--method <method>', 'only requests with this HTTP method (e.g. GET)')
      .option('--max <n>', 'stop after n requests')
      .option('--json', 'print the server\'s NDJSON lines as they come'),
  )
    .addHelpText('after', '\nExamples:\n  meshctl tap api\n  meshctl tap api --path-prefix /users --method GET\n  meshctl tap api --max 20 --json\n\nTap shows request paths and ids: it needs a management token, or the agent token of a host that runs the service.\nEach proxy samples at most 100 requests a second per tap; a line "# N ... not shown" says when some were left out.')
    .action(async (service: string, flags: TapFlags) => {
      // An empty value is a mistake (an unset shell variable), not a way to say "no filter": leaving the flag out is.
      if (flags.method === '') throw new MeshError('MESH_E_USAGE', '--method is empty', { hint: 'give an HTTP method such as --method GET, or leave --method out to see every method' });
      if (flags.pathPrefix === '') throw new MeshError('MESH_E_USAGE', '--path-prefix is empty', { hint: 'give a path prefix such as --path-prefix /users, or leave --path-prefix out to see every path' });
      const parsed = parseTapFilter({ service, pathPrefix: flags.pathPrefix ?? null, method: flags.method ?? null });
      if ('errors' in parsed) throw new MeshError('MESH_E_USAGE', parsed.errors.join('; '), { hint: 'see meshctl tap --help' });
      const max = parseMax(flags.max);
      const query = new URLSearchParams({ service: parsed.filter.service });
      if (parsed.filter.pathPrefix) query.set('path_prefix', parsed.filter.pathPrefix);
      if (parsed.filter.method) query.set('method', parsed.filter.method);
      if (max > 0) query.set('limit', String(max));
      await tap(clientFor(flags), `/v1/mesh/tap?${query}`, service, max, flags.json === true);
    });
}

async function tap(client: ReturnType<typeof clientFor>, path: string, service: string, max: number, json: boolean): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let seen = 0;
  try {
    const res = await client.stream(path, stop.signal).catch((error: unknown) => {
      throw explain(error, service);
    });
    if (process.stderr.isTTY) process.stderr.write(`tapping ${service}; Ctrl-C to stop\n`);
    for await (const line of createInterface({ input: res, crlfDelay: Infinity })) {
      if (line === '') continue;
      const item = JSON.parse(line) as TapEvent | { dropped: number };
      if ('dropped' in item) {
        process.stdout.write(`${json ? line : formatDroppedLine(item.dropped)}\n`);
        continue;
      }
      process.stdout.write(`${json ? line : formatTapLine(item)}\n`);
      if (max > 0 && ++seen >= max) break;
    }
    if (max > 0 && seen < max && !stop.signal.aborted) {
      throw new MeshError('MESH_E_SERVER_UNREACHABLE', `the server ended the tap stream after ${seen} of ${max} requests`, { hint: 'the server may have restarted: run meshctl tap again' });
    }
  } catch (error) {
    // Ctrl-C is how a tap ends: not a failure.
    if (stop.signal.aborted) return;
    if (isMeshError(error)) throw error;
    throw new MeshError('MESH_E_SERVER_UNREACHABLE', `the tap stream broke: ${(error as Error).message}`, { hint: 'check that the server still runs, then run meshctl tap again' });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop.abort();
  }
}

function parseMax(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = parseCount(text, { min: 1, max: TAP_MAX_LIMIT });
  if (n === undefined) throw new MeshError('MESH_E_USAGE', `--max ${text} is not a count from 1 to ${TAP_MAX_LIMIT}`, { hint: 'e.g. --max 20, or leave it out to tap until Ctrl-C' });
  return n;
}

/** The server's refusals, with what to do about them. */
function explain(error: unknown, service: string): unknown {
  if (!isMeshError(error)) return error;
  if (error.code === 'MESH_E_NOT_FOUND') return new MeshError('MESH_E_NOT_FOUND', `no service "${service}" to tap: it has no instance in the catalog`, { hint: 'meshctl services lists the services; check the name' });
  if (error.code === 'MESH_E_PERMISSION_DENIED') {
    return new MeshError('MESH_E_PERMISSION_DENIED', error.message, { hint: `tap shows request paths and ids, so read-only tokens cannot tap: use a management token or the agent token of a host that runs ${service} (--token or MESHCTL_TOKEN)` });
  }
  return error;
}
