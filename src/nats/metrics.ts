// Prometheus metrics for `mmc serve --metrics <port>` (GET /metrics). Wall-clock time is
// used here for durations only; it never reaches an event.
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class ServeMetrics {
  readonly registry = new Registry();
  readonly messages = new Counter({
    name: "mmc_input_messages_total",
    help: "Input messages received, by outcome (applied, skipped: already in the journal)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly entries = new Counter({
    name: "mmc_events_applied_total",
    help: "Log entries applied and journaled (accepted and rejected)",
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "mmc_events_rejected_total",
    help: "Entries rejected, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly outputs = new Counter({
    name: "mmc_outputs_published_total",
    help: "Output events published and acknowledged by the output stream (republished ones count again), by type",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });
  readonly seq = new Gauge({ name: "mmc_journal_seq", help: "Last journaled input seq", registers: [this.registry] });
  readonly sourceSeq = new Gauge({ name: "mmc_source_seq", help: "Stream seq of the last applied input message", registers: [this.registry] });
  readonly pending = new Gauge({
    name: "mmc_consumer_pending",
    help: "Messages in the stream not yet delivered to the consumer (from the last message's metadata)",
    registers: [this.registry],
  });
  readonly consumerResets = new Counter({
    name: "mmc_consumer_recreated_total",
    help: "Times the consumer was recreated at the journal position (delivery gap or inconsistent state)",
    registers: [this.registry],
  });
  readonly groupSeconds = new Histogram({
    name: "mmc_group_seconds",
    help: "Time to apply, journal (fsync), publish outputs and ack one group of messages",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly fsyncSeconds = new Histogram({
    name: "mmc_journal_fsync_seconds",
    help: "Journal write + fdatasync per group",
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly groupMessages = new Histogram({
    name: "mmc_group_messages",
    help: "Messages per group (one fsync each)",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "mmc_" });
  }
}

/** Serves GET /metrics on `host:port` (port 0 = any free port). */
export async function startMetricsServer(metrics: ServeMetrics, port: number, host = "0.0.0.0"): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    res.writeHead(404);
    res.end("not found: try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr !== null ? addr.port : port };
}
