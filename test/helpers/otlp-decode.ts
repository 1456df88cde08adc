// Decodes an OTLP/HTTP protobuf ExportTraceServiceRequest into plain spans,
// for tests that stand in for a collector. The wire reading is
// OpenTelemetry's own ProtobufReader (from @opentelemetry/otlp-transformer,
// which in 0.301 exports its serializers but no request decoder, so the
// reader is loaded from the package's files); the field numbers are those of
// opentelemetry/proto trace/v1 as the transformer's serializer documents them.
// test/unit/telemetry/otlp-decode.test.ts checks this decoder against that
// serializer (ProtobufTraceSerializer), so a change in the encoding fails there.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface Reader {
  pos: number;
  isAtEnd(): boolean;
  readTag(): { fieldNumber: number; wireType: number };
  readVarint(): number;
  readBytes(): Uint8Array;
  readString(): string;
  skip(wireType: number): void;
}

const require = createRequire(import.meta.url);
const { ProtobufReader } = require(join(dirname(require.resolve('@opentelemetry/otlp-transformer')), 'common', 'protobuf', 'protobuf-reader.cjs')) as { ProtobufReader: new (buf: Uint8Array) => Reader };

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface DecodedSpan {
  service: string;
  resource: Record<string, AttributeValue>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  attributes: Record<string, AttributeValue>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message: string };
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
}

const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
const CODES = ['UNSET', 'OK', 'ERROR'] as const;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Visits each field of a message: fn returns true when it read the value, else the field is skipped. */
function fields(bytes: Uint8Array, fn: (field: number, wire: number, reader: Reader) => boolean): void {
  const reader = new ProtobufReader(bytes);
  while (!reader.isAtEnd()) {
    const { fieldNumber, wireType } = reader.readTag();
    if (!fn(fieldNumber, wireType, reader)) reader.skip(wireType);
  }
}

function fixed64(bytes: Uint8Array, reader: Reader): Buffer {
  const at = reader.pos;
  reader.pos += 8;
  return Buffer.from(bytes.subarray(at, at + 8));
}

function anyValue(bytes: Uint8Array): AttributeValue {
  let value: AttributeValue = null;
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === 2) value = r.readString();
    else if (field === 2 && wire === 0) value = r.readVarint() !== 0;
    else if (field === 3 && wire === 0) value = r.readVarint();
    else if (field === 4 && wire === 1) value = fixed64(bytes, r).readDoubleLE(0);
    else if (field === 5 && wire === 2) {
      const list: AttributeValue[] = [];
      fields(r.readBytes(), (f, w, inner) => (f === 1 && w === 2 ? (list.push(anyValue(inner.readBytes())), true) : false));
      value = list;
    } else return false;
    return true;
  });
  return value;
}

function keyValue(bytes: Uint8Array, into: Record<string, AttributeValue>): void {
  let key = '';
  let value: AttributeValue = null;
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === 2) key = r.readString();
    else if (field === 2 && wire === 2) value = anyValue(r.readBytes());
    else return false;
    return true;
  });
  into[key] = value;
}

function span(bytes: Uint8Array, resource: Record<string, AttributeValue>): DecodedSpan {
  const out: DecodedSpan = {
    service: String(resource['service.name'] ?? ''), resource, traceId: '', spanId: '', parentSpanId: '', traceState: '', name: '', kind: 'UNSPECIFIED',
    attributes: {}, status: { code: 'UNSET', message: '' }, startTimeUnixNano: 0n, endTimeUnixNano: 0n,
  };
  fields(bytes, (field, wire, r) => {
    if (field === 1 && wire === 2) out.traceId = hex(r.readBytes());
    else if (field === 2 && wire === 2) out.spanId = hex(r.readBytes());
    else if (field === 3 && wire === 2) out.traceState = r.readString();
    else if (field === 4 && wire === 2) out.parentSpanId = hex(r.readBytes());
    else if (field === 5 && wire === 2) out.name = r.readString();
    else if (field === 6 && wire === 0) out.kind = KINDS[r.readVarint()] ?? 'UNSPECIFIED';
    else if (field === 7 && wire === 1) out.startTimeUnixNano = fixed64(bytes, r).readBigUInt64LE(0);
    else if (field === 8 && wire === 1) out.endTimeUnixNano = fixed64(bytes, r).readBigUInt64LE(0);
    else if (field === 9 && wire === 2) keyValue(r.readBytes(), out.attributes);
    else if (field === 15 && wire === 2) {
      fields(r.readBytes(), (f, w, s) => {
        if (f === 2 && w === 2) out.status.message = s.readString();
        else if (f === 3 && w === 0) out.status.code = CODES[s.readVarint()] ?? 'UNSET';
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return out;
}

/** Every span of an ExportTraceServiceRequest, each with its resource's attributes. */
export function decodeTraceRequest(body: Uint8Array): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  fields(body, (field, wire, r) => {
    if (field !== 1 || wire !== 2) return false;
    const resourceSpans = r.readBytes();
    const resource: Record<string, AttributeValue> = {};
    const scopes: Uint8Array[] = [];
    fields(resourceSpans, (f, w, rs) => {
      if (f === 1 && w === 2) fields(rs.readBytes(), (rf, rw, res) => (rf === 1 && rw === 2 ? (keyValue(res.readBytes(), resource), true) : false));
      else if (f === 2 && w === 2) scopes.push(rs.readBytes());
      else return false;
      return true;
    });
    for (const scope of scopes) fields(scope, (f, w, ss) => (f === 2 && w === 2 ? (spans.push(span(ss.readBytes(), resource)), true) : false));
    return true;
  });
  return spans;
}
