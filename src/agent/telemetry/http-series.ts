// meshctl_requests_total and meshctl_request_duration_seconds, counted
// without prom-client on the request's turn. prom-client's Counter.inc and
// Histogram.observe each build a hash string from the label object and check
// its label names on every call (~1.2 µs a record for the two); here a record
// walks nested maps keyed by the record's own fields (strings whose hashes V8
// has cached, a number, a boolean: ~40 ns, five times cheaper than one string
// key built per record) to its series and adds to plain numbers. The label
// object is made once per series.
//
// At scrape time two metric objects hand the registry exactly what
// prom-client's Counter and Histogram would have (same values, label objects
// and key order, series in first-seen order), so /metrics does not change by
// a byte; test/unit/telemetry/http-series.test.ts compares the two.

import type { HttpRecord } from '../../proxy/telemetry/records.ts';
import { httpLabels, responseCodeOf, type HttpLabels } from './labels.ts';

interface Series {
  readonly labels: HttpLabels;
  /** meshctl_requests_total; 0 means "not listed yet" (a series is listed from its first count, as prom-client does). */
  requests: number;
  /** Observations per bucket, not cumulative: values in (bounds[i-1], bounds[i]]; one above the last bound is only in `count`. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** direction → source → destination → route → response code (a number, so the lookup makes no string) → [mtls false, mtls true]. */
type ByCode = Map<number, [Series | undefined, Series | undefined]>;
type Tree = Map<string, Map<string, Map<string, Map<string, ByCode>>>>;

function child<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let next = map.get(key);
  if (next === undefined) map.set(key, (next = make()));
  return next;
}

/** What the registry reads from a metric (prom-client's get() shape). */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string>;
  exemplar?: null | undefined;
}
interface ExportedMetric {
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' };
  reset(): void;
}

export class HttpSeriesTable {
  private readonly bounds: readonly number[];
  private readonly tree: Tree = new Map();
  /** Listed in meshctl_requests_total, in the order each was first counted. */
  private counted: Series[] = [];
  /** Listed in the histogram, in the order each was first observed. */
  private observed: Series[] = [];

  constructor(bounds: readonly number[]) {
    this.bounds = [...bounds];
  }

  /** Throws prom-client's own error, after counting the request, when the duration is not a finite number (as Histogram.observe did). */
  record(record: HttpRecord): void {
    const series = this.seriesOf(record);
    if (series.requests === 0) this.counted.push(series);
    series.requests += 1;
    const seconds = record.durationMs / 1000;
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${String(seconds)}`);
    if (series.count === 0) this.observed.push(series);
    series.sum += seconds;
    series.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      // le is inclusive: a value on a bound counts in that bound's bucket.
      if (seconds <= (bounds[i] as number)) {
        series.buckets[i] = (series.buckets[i] as number) + 1;
        break;
      }
    }
  }

  private seriesOf(r: HttpRecord): Series {
    const byCode = child(child(child(child(this.tree, r.direction, () => new Map()), r.source, () => new Map()), r.destination, () => new Map()), r.route ?? '', () => new Map() as ByCode);
    const pair = child(byCode, responseCodeOf(r.status), () => [undefined, undefined] as [Series | undefined, Series | undefined]);
    const mtls = r.mtls ? 1 : 0;
    return (pair[mtls] ??= { labels: httpLabels(r), requests: 0, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 });
  }

  /** The counter, for the registry: prom-client's Counter.get() values. */
  counter(name: string, help: string): ExportedMetric {
    return {
      name, help, type: 'counter', aggregator: 'sum',
      get: () => ({ name, help, type: 'counter', values: this.counted.map((s) => ({ value: s.requests, labels: s.labels })), aggregator: 'sum' }),
      reset: () => {
        for (const s of this.counted) s.requests = 0;
        this.counted = [];
      },
    };
  }

  /**
   * The histogram, for the registry: getForPromString() is what the registry
   * formats text from (the series' labels shared by its lines, as
   * prom-client's Histogram gives them, so its per-labels cache applies);
   * get() is the same with the labels spread into each line (the JSON form).
   */
  histogram(name: string, help: string): ExportedMetric & { getForPromString(): ReturnType<ExportedMetric['get']> } {
    const forText = () => ({ name, help, type: 'histogram', values: this.observed.flatMap((s) => this.lines(name, s)), aggregator: 'sum' as const });
    return {
      name, help, type: 'histogram', aggregator: 'sum',
      getForPromString: forText,
      get: () => {
        const text = forText();
        return { ...text, values: text.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
      },
      reset: () => {
        for (const s of this.observed) {
          s.buckets.fill(0);
          s.sum = 0;
          s.count = 0;
        }
        this.observed = [];
      },
    };
  }

  private lines(name: string, s: Series): MetricValue[] {
    const bucket = `${name}_bucket`;
    const out: MetricValue[] = [];
    let seen = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      seen += s.buckets[i] as number;
      out.push({ labels: { le: this.bounds[i] as number }, sharedLabels: s.labels, value: seen, metricName: bucket, exemplar: null });
    }
    out.push(
      { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null },
      { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum`, exemplar: undefined },
      { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${name}_count`, exemplar: undefined },
    );
    return out;
  }
}
