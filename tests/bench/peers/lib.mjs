// lib.mjs — shared plumbing for the peer benchmark scripts (graphile.mjs, pgboss.mjs):
// the command line, the worker's ready/go/stop handshake with tests/bench/peers.py, and the
// timed add loops. Every command prints one JSON line on stdout; logs go to stderr.
import readline from "node:readline";

// Runs the command named in argv[2] from `commands` ({name: async (url, ...args) => result});
// arguments that read as numbers are passed as numbers.
export async function main(commands) {
  const [cmd, url, ...rest] = process.argv.slice(2);
  if (!commands[cmd] || !url) {
    console.error(`usage: ${process.argv[1]} {${Object.keys(commands).join("|")}} DATABASE_URL [N...]`);
    process.exit(2);
  }
  try {
    const out = await commands[cmd](url, ...rest.map((a) => (Number.isNaN(Number(a)) ? a : Number(a))));
    if (out !== undefined) console.log(JSON.stringify(out));
    process.exit(0);
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
}

// Worker handshake: after boot prints "ready", waits for "go" on stdin, calls start(); on
// "stop" (or stdin closing) calls stop() and resolves with the handler statistics.
// stats.first is the wall-clock ms (Date.now) of the first handler call.
export function handshake(start, stop, stats) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin });
    let stopping = false;
    const finish = async () => {
      if (stopping) return;
      stopping = true;
      rl.close();
      try {
        await stop();
        resolve(stats);
      } catch (e) {
        reject(e);
      }
    };
    rl.on("line", (line) => {
      if (line.trim() === "go") start().catch(reject);
      else if (line.trim() === "stop") finish();
    });
    rl.on("close", finish);
    console.log("ready");
  });
}

// Runs `inflight` loops calling add() (which adds `per` jobs) until `seconds` have passed;
// returns {jobs, secs} with the jobs whose add resolved and the elapsed time.
export async function timedAdds(add, per, inflight, seconds) {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let jobs = 0;
  const loop = async () => {
    while (performance.now() < end) {
      await add();
      jobs += per;
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  return { jobs, secs: (performance.now() - t0) / 1000 };
}
