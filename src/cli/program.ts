// mmc — the command-line interface. Exit codes: 0 ok; 1 the work failed (a broken journal,
// a failed verification); 2 usage errors (unknown command or option, bad argument).
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { replayCommand } from "./replay-cmd.js";
import { benchCommand, BENCHES } from "./bench-cmd.js";
import { matchCommand } from "./match-cmd.js";
import { DEFAULT_JOURNAL, DEFAULT_NATS_URL, publishCommand, queryCommand, replayFromStream, serveCommand } from "../nats/commands.js";
import { DEFAULT_CORE_CALL_TIMEOUT_SECONDS, parseCoreCallTimeout, parseCoreThread, type CoreThread } from "../nats/serve.js";
import { demoCommand } from "./demo.js";
import { verifyCommand, importCommand, exportCommand, generateCommand, processCommand } from "./log-cmds.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** `--core-thread`: worker or main. */
function coreThreadArg(v: string): CoreThread {
  try {
    return parseCoreThread(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** `--core-call-timeout`: seconds > 0. */
function coreCallTimeoutArg(v: string): number {
  try {
    return parseCoreCallTimeout(v.trim() === "" ? NaN : Number(v));
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function intArg(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("mmc")
    .description("Exchange-grade, event-sourced matching-and-margin core: exact margin in a WASM kernel, hash-chained journal, NATS JetStream pipeline.")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("demo")
    .description("the main job on the embedded default (no broker): generate a seeded market with a crash, journal it, replay it, show what happened")
    .option("--seed <n>", "generator seed", intArg("seed"), 42)
    .option("--accounts <n>", "number of trader accounts", intArg("accounts", 2), 2000)
    .option("--events <n>", "number of events", intArg("events", 100), 50_000)
    .option("--dir <path>", "where to write market.ndjson and market.journal (default: a temp dir)")
    .option("--no-order-flow", "a tape of external fills instead of orders through the matching engine")
    .option("--json", "print the summary as JSON")
    .option("--no-progress", "no progress bars")
    .action(async (opts) => {
      process.exitCode = await demoCommand(opts);
    });

  program
    .command("replay")
    .description("replay an NDJSON log or a journal and print the SPEC §9 report")
    .argument("[log]", "NDJSON file or journal (omit with --nats)")
    .option("--nats <url>", "rebuild from the input stream of this NATS server instead (ordered consumer)")
    .option("--stream <name>", "input stream name (with --nats)", "MMC_IN")
    .option("--json", "print exactly the SPEC §9 report as JSON")
    .option("--until <seq>", "stop after this seq", intArg("until", 0))
    .option("--snapshot <file>", "start from this snapshot and replay the rest")
    .option("--snapshot-at <seq>", "write a snapshot after this seq (with --snapshot-out)", intArg("snapshot-at", 0))
    .option("--snapshot-out <file>", "snapshot file to write")
    .option("--no-progress", "no progress bar")
    .action(async (log: string | undefined, opts) => {
      if (opts.nats !== undefined) {
        if (log !== undefined) throw new InvalidArgumentError("give either <log> or --nats, not both");
        process.exitCode = await replayFromStream({ nats: opts.nats, stream: opts.stream, json: opts.json });
        return;
      }
      if (log === undefined) throw new InvalidArgumentError("a <log> file (or --nats <url>) is required");
      process.exitCode = await replayCommand(log, opts);
    });

  program
    .command("verify")
    .description("verify a journal's checksums and hash chain: prints the head hash (exit 0) or the first bad record (exit 1)")
    .argument("<journal>")
    .option("--json", "print the result as JSON")
    .action((journal: string, opts) => {
      process.exitCode = verifyCommand(journal, opts);
    });

  program
    .command("import")
    .description("convert an NDJSON log into a journal (seq, ts, checksum, hash chain, fsync)")
    .argument("<ndjson>")
    .argument("<journal>")
    .option("--no-progress", "no progress bar")
    .action(async (src: string, dst: string, opts) => {
      process.exitCode = await importCommand(src, dst, opts);
    });

  program
    .command("process")
    .description("run a log (NDJSON or journal) through the engine into a new journal: each input followed by its derived records (liquidations, ADL, margin calls, rejections)")
    .argument("<log>")
    .argument("<journal>")
    .option("--json", "print the result as JSON")
    .option("--no-progress", "no progress bar")
    .action(async (src: string, dst: string, opts) => {
      process.exitCode = await processCommand(src, dst, opts);
    });

  program
    .command("export")
    .description("write a journal's input events back as NDJSON (stdout or --out)")
    .argument("<journal>")
    .option("--out <file>", "output file (default stdout)")
    .action(async (journal: string, opts) => {
      process.exitCode = await exportCommand(journal, opts);
    });

  program
    .command("generate")
    .description("write a seeded synthetic market as NDJSON (the demo's generator)")
    .option("--seed <n>", "generator seed", intArg("seed"), 42)
    .option("--accounts <n>", "number of trader accounts", intArg("accounts", 2), 1000)
    .option("--events <n>", "number of events", intArg("events", 1), 10_000)
    .option("--order-flow", "orders through the matching engine (market makers, takers, cancels, replaces) instead of fills")
    .option("--calm", "a steady fills-only market: no crash, no gaps, modest sizes, rare liquidations (the benches' steady workload)")
    .option("--out <file>", "output file (default stdout)")
    .action(async (opts) => {
      process.exitCode = await generateCommand(opts);
    });

  program
    .command("serve")
    .description("the JetStream service: durable pull consumer on the input stream → engine → journal (fsync) → outputs → ack; restarts resume exactly")
    .requiredOption("--nats <url>", "NATS server URL")
    .option("--stream <name>", "input stream", "MMC_IN")
    .option("--journal <path>", "journal file", DEFAULT_JOURNAL)
    .option("--metrics <port>", "serve Prometheus metrics on this port", intArg("metrics", 1))
    .option("--consumer <name>", "durable consumer name", "mmc-serve")
    .option("--snapshot-every <n>", "write a snapshot every N events (0: never)", intArg("snapshot-every", 0), 100_000)
    .option("--core-thread <worker|main>", "run the core and the journal on a worker thread (default) or on the NATS thread", coreThreadArg)
    .option(
      "--core-call-timeout <seconds>",
      `stop (exit 1, nothing of the group acked) when a call to the core worker gets no reply for this long (default ${DEFAULT_CORE_CALL_TIMEOUT_SECONDS}; worker only)`,
      coreCallTimeoutArg,
    )
    .option("--log-level <level>", "pino log level (also MMC_LOG_LEVEL)")
    .action(async (opts) => {
      process.exitCode = await serveCommand(opts);
    });

  program
    .command("publish")
    .description("publish a log (NDJSON or journal) to the input stream in batches, with message ids (running it twice stores nothing new)")
    .argument("<log>")
    .requiredOption("--nats <url>", "NATS server URL")
    .option("--stream <name>", "input stream", "MMC_IN")
    .option("--batch <n>", "events per message (binary batch encoding)", intArg("batch", 1), 1000)
    .option("--json", "print the result as JSON")
    .option("--log-level <level>", "pino log level")
    .action(async (file: string, opts) => {
      process.exitCode = await publishCommand(file, opts);
    });

  program
    .command("query")
    .description("ask a running `mmc serve` (NATS micro service) for an account's state, as in the SPEC report")
    .argument("<account>")
    .option("--nats <url>", "NATS server URL", process.env.NATS_URL ?? DEFAULT_NATS_URL)
    .option("--json", "print the account as JSON")
    .option("--timeout <ms>", "request timeout", intArg("timeout", 1), 5000)
    .action(async (account: string, opts) => {
      process.exitCode = await queryCommand(account, opts);
    });

  program
    .command("match")
    .description("run order events (order.new / order.cancel / order.replace, with instrument definitions) through the matching engine alone")
    .argument("<orders>", "NDJSON file")
    .option("--json", "print { trades, book, rejected } as JSON")
    .option("--book <kind>", "fast (default) or naive (the reference book)", "fast")
    .action((file: string, opts) => {
      process.exitCode = matchCommand(file, opts);
    });

  program
    .command("bench")
    .description(`run a benchmark: ${BENCHES.join(", ")}, or all`)
    .argument("<name>")
    .option("--json", "print the result as JSON")
    .option("--positions <n>", "positions (kernel: 1M, mark: 100k, memory: 1M)", intArg("positions", 2))
    .option("--events <n>", "events (replay: 200k, pipeline: 100k)", intArg("events", 1))
    .option("--ops <n>", "operations (matching: 1M)", intArg("ops", 1))
    .option("--seed <n>", "seed", intArg("seed"))
    .option("--write <file>", "also write the results as markdown (machine, command, figures)")
    .action(async (name: string, opts) => {
      process.exitCode = await benchCommand(name, opts);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    process.stderr.write(`mmc: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILED;
  }
}

