#!/usr/bin/env python3
"""Retrieval evaluation: stores the memories of tests/fixtures/retrieval.json in a real gateway
(a throwaway PostgreSQL, one database per embedding provider), runs every query in each search
mode and prints recall@1, recall@5 and MRR (over the first 10 results) per mode and provider,
side by side. `make eval-retrieval` runs it; tests/integration/test_memory_meaning.py uses
`evaluate` to hold the default provider to its target.

First it checks the test set itself: a query must share no content word (nor a word's plural,
-ed, -ing or -ly form) with a memory labelled relevant to it, so only meaning can find it.

Usage: FLOWSTATE_BIN_DIR=build/bin python3 tests/eval/retrieval.py [--providers local,hash]
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

FIXTURE = HERE.parent / "fixtures" / "retrieval.json"
MODES = ("keyword", "semantic", "hybrid")
DEPTH = 10  # results asked for; MRR counts a memory found beyond them as 0

# Function words the overlap check ignores (a shared "the" is not a shared meaning).
STOP = set("""a about above after again all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each every few for from
further had has have having he her here hers him his how i if in into is it its itself just me
more most my no nor not now of off on once only or other our out over own same she should so
some such than that the their them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your""".split())


def load_fixture(path=FIXTURE):
    with open(path) as f:
        return json.load(f)


def _forms(word):
    """The word and the stems a keyword search could match it by."""
    out = {word}
    for suffix in ("'s", "s", "es", "ed", "ing", "ly", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.add(word[: -len(suffix)])
    return out


def content_words(text):
    words = set()
    for w in re.findall(r"[a-z0-9']+", text.lower()):
        w = w.strip("'")
        if w and w not in STOP:
            words |= _forms(w)
    return words


def check_fixture(fx):
    """Returns the list of problems (empty when the set is sound)."""
    problems = []
    mems = {m["id"]: m["content"] for m in fx["memories"]}
    if len(mems) != len(fx["memories"]):
        problems.append("duplicate memory ids")
    for q in fx["queries"]:
        for rid in q["relevant"]:
            if rid not in mems:
                problems.append(f"query {q['q']!r}: unknown memory {rid}")
                continue
            shared = content_words(q["q"]) & content_words(mems[rid])
            if shared:
                problems.append(f"query {q['q']!r} shares {sorted(shared)} with {rid}")
    return problems


def store_memories(gw, fx):
    """POSTs every memory; returns {fixture id: document id}."""
    ids = {}
    for m in fx["memories"]:
        r = gw.post("/api/documents", json={"content": m["content"], "agentName": "eval",
                                            "memoryType": "general", "tags": [m["topic"]]})
        assert r.status_code == 201, f"storing {m['id']}: {r.status_code} {r.text}"
        ids[m["id"]] = r.json()["id"]
    return ids


def evaluate(gw, fx, ids, modes=MODES, misses=None):
    """{mode: {"r1", "r5", "mrr", "model"}} for the memories stored as ids; with misses (a
    list), appends a line for each query whose memory is not in the first 5."""
    by_doc = {v: k for k, v in ids.items()}
    out = {}
    for mode in modes:
        r1 = r5 = mrr = 0.0
        model = None
        for q in fx["queries"]:
            r = gw.get("/api/documents/search", params={"q": q["q"], "mode": mode, "limit": DEPTH})
            assert r.status_code == 200, f"{mode} {q['q']!r}: {r.status_code} {r.text}"
            body = r.json()
            model = body.get("model", model)
            ranked = [by_doc.get(d["id"]) for d in body["documents"]]
            first = next((i for i, mid in enumerate(ranked) if mid in q["relevant"]), None)
            if first is not None:
                r1 += first == 0
                r5 += first < 5
                mrr += 1.0 / (first + 1)
            if misses is not None and (first is None or first >= 5):
                found = ranked[0] if ranked else None
                misses.append(f"{mode}: {q['q']!r} wants {q['relevant']}, rank "
                              f"{'-' if first is None else first + 1}, first {found}")
        n = len(fx["queries"])
        out[mode] = {"r1": r1 / n, "r5": r5 / n, "mrr": mrr / n, "model": model}
    return out


def _start_gateway(cluster, dbname, provider, log_dir):
    import fsutil

    cluster.admin(f"CREATE DATABASE {dbname} TEMPLATE fs_template")
    url = cluster.url_for(dbname)
    key = fsutil.create_key(url, "admin")
    port = fsutil.free_port()
    log_path = Path(log_dir) / f"gateway-{provider}.log"
    env = fsutil.child_env({"DATABASE_URL": url, "PORT": port, "FLOWSTATE_HOST": "127.0.0.1",
                            "FLOWSTATE_EMBED_PROVIDER": provider, "FLOWSTATE_LOG_LEVEL": "info"})
    with open(log_path, "wb") as logf:
        proc = fsutil.popen_gateway([], env, stdout=logf, stderr=logf)
    gw = fsutil.Gateway(proc, port, url, log_path, key, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway ({provider}) exited {proc.returncode}:\n{gw.log_tail()}")
        try:
            if gw.get("/health", timeout=2).status_code == 200:
                return gw
        except Exception:
            pass
        time.sleep(0.1)
    gw.stop()
    raise SystemExit(f"gateway ({provider}) not ready:\n{gw.log_tail()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--providers", default="hash,local", help="embed-provider values, in columns")
    ap.add_argument("--fixture", default=str(FIXTURE))
    ap.add_argument("--misses", action="store_true",
                    help="also list each query whose memory is not in the first 5")
    args = ap.parse_args()
    fx = load_fixture(args.fixture)
    problems = check_fixture(fx)
    if problems:
        print("the test set is not sound:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    import tempfile

    import fsutil

    providers = args.providers.split(",")
    results = {}
    misses = {p: [] for p in providers} if args.misses else {}
    cluster = fsutil.Cluster.create(prefix="fs-eval-")
    try:
        cluster.admin("CREATE DATABASE fs_template")
        p = fsutil.run_cli(["--migrate"], {"DATABASE_URL": cluster.url_for("fs_template")}, timeout=60)
        if p.returncode != 0:
            print(p.stdout, p.stderr, file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory(prefix="fs-eval-logs-") as logs:
            for i, provider in enumerate(providers):
                gw = _start_gateway(cluster, f"eval_{i}", provider, logs)
                try:
                    ids = store_memories(gw, fx)
                    results[provider] = evaluate(gw, fx, ids, misses=misses.get(provider))
                finally:
                    gw.stop()
    finally:
        cluster.destroy()
    print(f"{len(fx['memories'])} memories, {len(fx['queries'])} queries sharing no content word "
          f"with their memory; first {DEPTH} results\n")
    head = "| mode | " + " | ".join(
        f"{p} ({results[p]['semantic']['model']}) R@1 | R@5 | MRR" for p in providers) + " |"
    print(head)
    print("|---|" + "---|---|---|" * len(providers))
    for mode in MODES:
        cells = []
        for p in providers:
            m = results[p][mode]
            cells.append(f"{m['r1']:.2f} | {m['r5']:.2f} | {m['mrr']:.2f}")
        print(f"| {mode} | " + " | ".join(cells) + " |")
    for p, lines in misses.items():
        print(f"\nmisses of {p}:\n  " + "\n  ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
