// Debian's python3-consul (python-consul 0.7.1), unmodified, against a real
// `meshctl server` process with ACLs on. The client sends lowercase register
// bodies, the token as ?token=, TTL updates as GET, and reads X-Consul-Index
// even on a KV 404. A Python script drives it and prints JSON; the assertions
// are here.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { removeDir, startServer, type ServerProcess } from '../helpers/server.ts';

// Debian's Python packages install for this interpreter only (see DESIGN.md).
const PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import json, sys
try:
    import consul
except ImportError as error:
    print(json.dumps({"import_error": str(error)}))
    sys.exit(3)

port, token = int(sys.argv[1]), sys.argv[2]
c = consul.Consul(host="127.0.0.1", port=port, token=token)
out = {"version": consul.__version__}

def attempt(call):
    try:
        return {"result": call()}
    except Exception as error:
        return {"error": type(error).__name__}

# ACLs are on: without a token the same client is refused.
anonymous = consul.Consul(host="127.0.0.1", port=port)
out["anonymous_put"] = attempt(lambda: anonymous.kv.put("py/denied", "x"))

out["register"] = c.agent.service.register(
    "pyweb", service_id="pyweb-1", port=8080, tags=["py", "v1"], check=consul.Check.ttl("30s"))
out["passing_before"] = len(c.health.service("pyweb", passing=True)[1])

# agent.check.ttl_pass takes no token in this client, so a client whose HTTP
# session carries it as a header makes that one call.
ttl = consul.Consul(host="127.0.0.1", port=port)
ttl.http.session.headers["X-Consul-Token"] = token
out["ttl_pass"] = ttl.agent.check.ttl_pass("service:pyweb-1", notes="from python")

index, nodes = c.health.service("pyweb", passing=True)
out["health"] = {"index": index, "nodes": [{
    "id": n["Service"]["ID"], "service": n["Service"]["Service"], "port": n["Service"]["Port"],
    "tags": n["Service"]["Tags"],
    "checks": {k["CheckID"]: {"status": k["Status"], "output": k["Output"]} for k in n["Checks"]},
} for n in nodes]}

kv = {}
kv["cas0_create"] = c.kv.put("py/leader", "one", cas=0)
kv["cas0_again"] = c.kv.put("py/leader", "two", cas=0)
index, item = c.kv.get("py/leader")
kv["first"] = {"index": index, "value": item["Value"].decode(), "modify": item["ModifyIndex"]}
kv["cas_current"] = c.kv.put("py/leader", "three", cas=item["ModifyIndex"])
kv["cas_stale"] = c.kv.put("py/leader", "four", cas=item["ModifyIndex"])
index, item = c.kv.get("py/leader")
kv["second"] = {"index": index, "value": item["Value"].decode(), "modify": item["ModifyIndex"]}
kv["missing"] = attempt(lambda: c.kv.get("py/missing"))
out["kv"] = kv
print(json.dumps(out))
`;

interface PyResult {
  version: string;
  anonymous_put: { result?: unknown; error?: string };
  register: boolean;
  passing_before: number;
  ttl_pass: boolean;
  health: {
    index: string;
    nodes: Array<{ id: string; service: string; port: number; tags: string[]; checks: Record<string, { status: string; output: string }> }>;
  };
  kv: {
    cas0_create: boolean;
    cas0_again: boolean;
    first: { index: string; value: string; modify: number };
    cas_current: boolean;
    cas_stale: boolean;
    second: { index: string; value: string; modify: number };
    missing: { result?: [string, null]; error?: string };
  };
}

function runPython(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A clean environment: python-consul reads CONSUL_HTTP_ADDR/CONSUL_HTTP_TOKEN,
    // and requests would honour proxy variables.
    execFile(PYTHON, ['-c', SCRIPT, ...args], { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error?.killed) {
        reject(new Error(`the python-consul script did not finish within 30s:\n${stdout}${stderr}`));
        return;
      }
      if (error && typeof error.code !== 'number') {
        reject(new Error(`cannot run ${PYTHON} (${error.code ?? error.message}): install the Debian packages python3 and python3-consul`));
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

let server: ServerProcess;
let out: PyResult;

before(async () => {
  server = await startServer();
  const run = await runPython([String(server.port), server.token]);
  if (run.code === 3) {
    throw new Error(`${PYTHON} cannot import consul: install the Debian package python3-consul (apt-get install python3-consul)\n${run.stdout}${run.stderr}`);
  }
  assert.equal(run.code, 0, `the python-consul script failed (exit ${run.code}):\n${run.stderr}\nserver output:\n${server.output()}`);
  out = JSON.parse(run.stdout) as PyResult;
});

after(async () => {
  await server?.stop();
  removeDir(server?.dataDir ?? '');
});

test('python-consul passes its token as ?token=, and is refused without one', () => {
  assert.deepEqual(out.anonymous_put, { error: 'ACLPermissionDenied' });
  assert.equal(out.register, true, 'agent.service.register with a lowercase body and ?token= succeeds');
});

test('a TTL check passed with agent.check.ttl_pass makes the instance passing', () => {
  assert.equal(out.passing_before, 0, 'a new TTL check starts critical');
  assert.equal(out.ttl_pass, true, 'ttl_pass (a GET) is answered 200');
  assert.ok(Number(out.health.index) >= 1, `health.service returns an index, got ${out.health.index}`);
  assert.equal(out.health.nodes.length, 1);
  const node = out.health.nodes[0]!;
  assert.equal(node.id, 'pyweb-1');
  assert.equal(node.service, 'pyweb');
  assert.equal(node.port, 8080);
  assert.deepEqual(node.tags, ['py', 'v1']);
  assert.deepEqual(node.checks['service:pyweb-1'], { status: 'passing', output: 'from python' });
});

test('kv.put with cas creates once, then writes only at the current ModifyIndex', () => {
  const { kv } = out;
  assert.equal(kv.cas0_create, true, 'cas=0 creates an absent key');
  assert.equal(kv.cas0_again, false, 'cas=0 on an existing key is refused');
  assert.equal(kv.first.value, 'one');
  assert.equal(Number(kv.first.index), kv.first.modify, 'the index of a single key is its ModifyIndex');
  assert.equal(kv.cas_current, true, 'cas=<ModifyIndex> writes');
  assert.equal(kv.cas_stale, false, 'a cas that is no longer the ModifyIndex is refused');
  assert.equal(kv.second.value, 'three');
  assert.ok(kv.second.modify > kv.first.modify);
});

test('kv.get on a missing key returns (index, None), reading X-Consul-Index from the 404', () => {
  assert.equal(out.kv.missing.error, undefined, `kv.get raised ${out.kv.missing.error} (no X-Consul-Index on the 404?)`);
  const [index, value] = out.kv.missing.result!;
  assert.equal(value, null);
  assert.match(index, /^[1-9]\d*$/, 'the index is a positive integer');
});
