// Stand-alone entry for `mmc serve` (tests spawn it as a child to kill -9 it):
//   node dist/src/nats/serve-main.js --nats <url> [--stream <name>] [--journal <path>] [--metrics <port>]
//     [--consumer <name>] [--snapshot-every <n>] [--core-thread <worker|main>] [--core-call-timeout <s>]
//     [--log-level <level>]
import { parseArgs } from "node:util";
import { serveCommand } from "./commands.js";
import { parseCoreCallTimeout, parseCoreThread, type CoreThread } from "./serve.js";

const { values } = parseArgs({
  options: {
    nats: { type: "string" },
    stream: { type: "string" },
    journal: { type: "string" },
    metrics: { type: "string" },
    consumer: { type: "string" },
    "snapshot-every": { type: "string" },
    "core-thread": { type: "string" },
    "core-call-timeout": { type: "string" },
    "log-level": { type: "string" },
  },
  strict: true,
});
if (values.nats === undefined) {
  process.stderr.write("usage: serve-main --nats <url> [--stream <name>] [--journal <path>] [--metrics <port>]\n");
  process.exit(2);
}
let coreThread: CoreThread | undefined;
let coreCallTimeout: number | undefined;
try {
  coreThread = values["core-thread"] === undefined ? undefined : parseCoreThread(values["core-thread"]);
  const t = values["core-call-timeout"];
  coreCallTimeout = t === undefined ? undefined : parseCoreCallTimeout(t.trim() === "" ? NaN : Number(t));
} catch (err) {
  process.stderr.write(`serve-main: ${(err as Error).message}
`);
  process.exit(2);
}
const code = await serveCommand({
  nats: values.nats,
  stream: values.stream,
  journal: values.journal,
  metrics: values.metrics === undefined ? undefined : Number(values.metrics),
  consumer: values.consumer,
  snapshotEvery: values["snapshot-every"] === undefined ? undefined : Number(values["snapshot-every"]),
  logLevel: values["log-level"],
  coreThread,
  coreCallTimeout,
});
process.exit(code);
