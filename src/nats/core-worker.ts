// The core worker's entry (worker-stage.ts starts it): an InThreadStage on this thread,
// driven by calls from serve's main thread. An uncaught error ends the worker, which the
// main thread reports as a fatal serve error.
import { parentPort, workerData } from "node:worker_threads";
import { InThreadStage, type StageMessage } from "./core-stage.js";
import { portLogger, type PortLogRecord } from "./log.js";
import { packOutputs, Rpc, Transfer, unpackMessages, type PackedMessages, type PackedOutputs } from "./stage-rpc.js";
import type { CoreWorkerInit, WireGroupResult, WireRecovered } from "./worker-stage.js";
import type { OutputPosition, PendingOutput } from "./outputs.js";

if (parentPort === null) throw new Error("core-worker.js runs as a worker thread (serve starts it)");
const init = workerData as CoreWorkerInit;
// Log records go to the main thread, which writes them with serve's logger (the caller's
// destination), marked thread: "core".
const port = parentPort;
const log = portLogger(init.logLevel, (record: PortLogRecord) => port.postMessage({ kind: "log", record }));
// No yields: nothing else runs on this thread while a group is applied.
// Recovery ticks the main thread's watchdog as it goes (a long replay is not a hang).
const rpc = new Rpc(parentPort);
const stage = new InThreadStage({ ...init.stage, yieldEvery: 0 }, log, () => rpc.tick());

const publish = async (outs: PendingOutput[]): Promise<void> => {
  const packed = packOutputs(outs);
  await rpc.call("publish", [packed.value], packed.list);
};

rpc.handle("open", () => stage.open());
rpc.handle("recover", async ([hw]) => {
  const r = await stage.recover(hw as OutputPosition | null, publish);
  const pending = packOutputs(r.pending);
  return new Transfer<WireRecovered>({ ...r, pending: pending.value }, pending.list);
});
rpc.handle("applyGroup", async ([packed]) => {
  const msgs: StageMessage[] = unpackMessages(packed as PackedMessages);
  const r = await stage.applyGroup(msgs);
  const outs: Transfer<PackedOutputs> = packOutputs(r.outs);
  return new Transfer<WireGroupResult>({ ...r, outs: outs.value }, outs.list);
});
rpc.handle("account", ([name]) => stage.account(name as string));
rpc.handle("stateHash", () => stage.stateHash());
rpc.handle("close", () => stage.close());
