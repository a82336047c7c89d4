// An OTLP/HTTP trace receiver on a loopback port, as a collector would be: it decodes the protobuf
// export requests with the OpenTelemetry SDK's own generated definitions and keeps every span
// (the tests), or only counts what it was sent (the benchmark's BENCH_TRACING=1, where decoding
// would take CPU from the system measured).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import root from '@opentelemetry/otlp-transformer/build/src/generated/root.js';

/** protobufjs leaves the unset members of the oneof null. */
interface AnyValue { stringValue?: string | null; intValue?: number | { toNumber(): number } | null; boolValue?: boolean | null; doubleValue?: number | null }
interface DecodedSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind: number;
  attributes: { key: string; value: AnyValue }[];
}
interface DecodedRequest {
  resourceSpans: { resource?: { attributes: { key: string; value: AnyValue }[] }; scopeSpans: { scope?: { name: string }; spans: DecodedSpan[] }[] }[];
}
const ExportTraceServiceRequest = (root as unknown as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(bytes: Uint8Array): DecodedRequest } } } } } };
}).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a trace's root. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  kind: number;
  service: string;
  scope: string;
  attributes: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests that were not POST /v1/traces with a protobuf body. */
  refused: number;
  /** Export requests taken, and their bytes. */
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');
const valueOf = (v: AnyValue) =>
  v.stringValue ?? v.boolValue ?? v.doubleValue ?? (v.intValue != null && typeof v.intValue === 'object' ? v.intValue.toNumber() : v.intValue) ?? '';

export async function startOtlpReceiver(options: { decode?: boolean } = {}): Promise<OtlpReceiver> {
  const decode = options.decode ?? true;
  const receiver: Omit<OtlpReceiver, 'url' | 'close'> = { spans: [], refused: 0, requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        receiver.refused++;
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      receiver.requests++;
      receiver.bytes += body.length;
      const decoded: DecodedRequest = decode ? ExportTraceServiceRequest.decode(body) : { resourceSpans: [] };
      for (const rs of decoded.resourceSpans) {
        const service = String(valueOf(rs.resource?.attributes.find((a) => a.key === 'service.name')?.value ?? {}));
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            receiver.spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              service,
              scope: ss.scope?.name ?? '',
              attributes: Object.fromEntries(s.attributes.map((a) => [a.key, valueOf(a.value)])),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...receiver,
    get spans() {
      return receiver.spans;
    },
    get refused() {
      return receiver.refused;
    },
    get requests() {
      return receiver.requests;
    },
    get bytes() {
      return receiver.bytes;
    },
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
