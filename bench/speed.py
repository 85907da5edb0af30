#!/usr/bin/env python3
"""copydesk speed and memory benchmark against the read+hash floor and the MinHash peers (issue 6).

Run from the project root after `cargo build --release` (bench/speed.sh does both):

    python3 bench/speed.py [--docs 200000] [--big] [--cache target/bench-cache] [--tools ...]

Steps (each fails loudly with a non-zero exit):
  1. builds the corpora once into the cache dir with the shared make_corpus.py (--docs N, default
     200k; --big adds 1M), with their truth TSVs;
  2. makes a virtualenv in the cache dir and installs the peers from PyPI (datasketch==2.0.0
     rensa==0.5.0 gaoya==0.2.2); a peer that cannot install is reported in the table and skipped;
  3. builds the shared floor program (CARGO_TARGET_DIR in the cache dir);
  4. runs every tool through the shared measure.py into one results JSONL per corpus (with
     --rounds N, every tool N times, round by round, and the table shows each tool's median-wall
     run), and scores each tool's removed ids with the shared eval_truth.py;
  5. writes bench/results/<corpus>-<date>.md beside the raw <corpus>-<date>.jsonl (measure.py
     records), <corpus>-<date>.scores.jsonl (eval_truth.py lines) and <corpus>-<date>.meta.json.
The table is written to a temporary file and renamed into place only when it is complete.

Standard library only. The shared benchmark folder (../shared/bench/perf by default) is only read.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PEER_PINS = [("datasketch", "2.0.0"), ("rensa", "0.5.0"), ("gaoya", "0.2.2")]
COPYDESK_LABELS = ("copydesk-default", "copydesk-w5-j08")
PEER_LABELS = ("rensa-rdedup", "rensa-rmh", "datasketch", "gaoya")
# floor-1t is the floor as the issue states it (one thread, 1.8 s on its machine's corpus);
# floor runs on as many threads as copydesk.
FLOOR_LABELS = ("floor", "floor-1t")
ALL_TOOLS = FLOOR_LABELS + COPYDESK_LABELS + PEER_LABELS


def log(msg):
    print("speed: " + msg, file=sys.stderr, flush=True)


class Fail(Exception):
    pass


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except OSError:
        return "(no log)"


def run_logged(cmd, logpath, env=None, cwd=None):
    with open(logpath, "a") as lf:
        lf.write("$ %s\n" % " ".join(shlex.quote(c) for c in cmd))
        lf.flush()
        return subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, cwd=cwd).returncode


def corpus_name(n):
    if n % 1000000 == 0:
        return "news-%dm" % (n // 1000000)
    if n % 1000 == 0:
        return "news-%dk" % (n // 1000)
    return "news-%d" % n


# ---------------------------------------------------------------- step 1: corpora

def build_corpus(shared, cache, n):
    name = corpus_name(n)
    corpus = os.path.join(cache, name + ".jsonl")
    truth = os.path.join(cache, name + ".truth.tsv")
    if os.path.exists(corpus) and os.path.exists(truth):
        log("corpus %s cached (%s)" % (name, corpus))
        return name, corpus, truth
    pool = os.path.normpath(os.path.join(shared, "..", "neardup", "sources", "dev_pool.jsonl.gz"))
    if not os.path.exists(pool):
        raise Fail("source pool %s not found" % pool)
    logpath = os.path.join(cache, name + ".build.log")
    log("building corpus %s (%d docs; about %.0f s per 100k docs on an idle core)..." % (name, n, 60))
    t = time.time()
    rc = run_logged([sys.executable, os.path.join(shared, "make_corpus.py"), pool, corpus + ".part",
                     "--n", str(n), "--truth", truth + ".part"], logpath)
    if rc != 0:
        raise Fail("make_corpus.py failed for %s (rc=%d):\n%s" % (name, rc, tail(logpath)))
    os.replace(truth + ".part", truth)
    os.replace(corpus + ".part", corpus)  # the corpus appears last: it marks a complete build
    log("corpus %s built in %.0f s" % (name, time.time() - t))
    return name, corpus, truth


# ---------------------------------------------------------------- step 2: peers

def venv_versions(py):
    code = ("import importlib.metadata as m, json\nout = {}\nfor p in %r:\n"
            "    try: out[p] = m.version(p)\n    except Exception: out[p] = None\nprint(json.dumps(out))"
            % [p for p, _ in PEER_PINS])
    r = subprocess.run([py, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return {p: None for p, _ in PEER_PINS}
    return json.loads(r.stdout)


def ensure_peers(cache, base_python):
    """Return (venv python or None, {pkg: version}, {pkg: reason it is missing})."""
    venv = os.path.join(cache, "venv")
    py = os.path.join(venv, "bin", "python")
    logpath = os.path.join(cache, "venv.log")
    missing = {}
    if not os.path.exists(py):
        log("creating the peers' virtualenv %s" % venv)
        if run_logged([base_python, "-m", "venv", venv], logpath) != 0:
            reason = "virtualenv creation failed: " + tail(logpath, 3).replace("\n", " ")
            return None, {}, {p: reason for p, _ in PEER_PINS}
    have = venv_versions(py)
    for pkg, ver in PEER_PINS:
        if have.get(pkg) == ver:
            continue
        log("pip install %s==%s into the virtualenv" % (pkg, ver))
        plog = os.path.join(cache, "pip-%s.log" % pkg)
        rc = run_logged([py, "-m", "pip", "install", "--disable-pip-version-check", "%s==%s" % (pkg, ver)], plog)
        if rc != 0:
            last = [l for l in tail(plog, 40).splitlines() if l.strip()]
            err = [l for l in last if "ERROR" in l or "error" in l] or last[-1:]
            missing[pkg] = "pip install %s==%s failed: %s" % (pkg, ver, (err[0] if err else "?").strip()[:200])
            log("  FAILED (log: %s)" % plog)
    have = venv_versions(py)
    for pkg, ver in PEER_PINS:
        if have.get(pkg) != ver and pkg not in missing:
            missing[pkg] = "installed version %s is not %s" % (have.get(pkg), ver)
    return py, have, missing


# ---------------------------------------------------------------- step 3: floor

def build_floor(shared, cache):
    target = os.path.join(cache, "floor-target")
    logpath = os.path.join(cache, "floor-build.log")
    log("building the floor program (CARGO_TARGET_DIR=%s)" % target)
    rc = run_logged(["cargo", "build", "--release", "--manifest-path", os.path.join(shared, "floor", "Cargo.toml")],
                    logpath, env=dict(os.environ, CARGO_TARGET_DIR=target))
    exe = os.path.join(target, "release", "floor")
    if rc != 0 or not os.access(exe, os.X_OK):
        raise Fail("floor build failed (rc=%d):\n%s" % (rc, tail(logpath)))
    return exe


# ---------------------------------------------------------------- machine

def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        info["nproc_available"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_total_gib"] = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    for key, cmd in (("rustc", ["rustc", "--version"]),
                     ("copydesk_commit", ["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"])):
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            info[key] = None
    try:
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                               capture_output=True, text=True).stdout.strip()
        info["copydesk_src_dirty"] = bool(dirty)
    except OSError:
        pass
    return info


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_jiffies():
    """System-wide busy CPU time in seconds (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return (total - idle) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- step 4: runs

def tool_specs(exe, corpus, work, floor, py, peers, threads):
    pp = os.path.join(peers, "py_peers.py")
    rayon = ["env", "RAYON_NUM_THREADS=%d" % threads]
    cd_out = lambda lab: os.path.join(work, lab + ".clusters.jsonl")
    rm = lambda lab: os.path.join(work, lab + ".removed")
    return {
        "floor": dict(short="word 5-gram span xxh3, %d threads" % threads,
                      settings="shared floor: read JSONL + xxh3 over each word-5-gram byte span, --mode span --threads %d" % threads,
                      cmd=[floor, "--mode", "span", "--threads", str(threads), corpus], removed=None),
        "floor-1t": dict(short="word 5-gram span xxh3, 1 thread",
                         settings="shared floor, --mode span --threads 1 (the floor as issue 6 states it)",
                         cmd=[floor, "--mode", "span", "--threads", "1", corpus], removed=None),
        "copydesk-default": dict(short="defaults",
                                 settings="copydesk dedup with default settings (threads: one per core)",
                                 cmd=[exe, "dedup", corpus, "--output", cd_out("copydesk-default")],
                                 clusters=cd_out("copydesk-default"), removed=rm("copydesk-default")),
        "copydesk-w5-j08": dict(short="word 5-gram, Jaccard >= 0.8",
                                settings="copydesk dedup --unit word --ngram 5 --threshold 0.8 --similarity jaccard (threads: one per core)",
                                cmd=[exe, "dedup", corpus, "--output", cd_out("copydesk-w5-j08"), "--unit", "word",
                                     "--ngram", "5", "--threshold", "0.8", "--similarity", "jaccard"],
                                clusters=cd_out("copydesk-w5-j08"), removed=rm("copydesk-w5-j08")),
        "rensa-rdedup": dict(short="RMinHashDeduplicator 128, LSH 16 bands, t 0.8", pkg="rensa",
                             settings="RMinHashDeduplicator 128, t=0.8, use_lsh 16 bands, 5-gram, RAYON=%d" % threads,
                             cmd=rayon + [py, pp, "rensa-rdedup", corpus, "--removed", rm("rensa-rdedup")],
                             removed=rm("rensa-rdedup")),
        "rensa-rmh": dict(short="RMinHash 128 + LSH 16 bands (flags, unverified)", pkg="rensa",
                          settings="RMinHash.digest_matrix_from_token_sets 128, 5-gram, RMinHashLSH 16 bands insert+flags, RAYON=%d" % threads,
                          cmd=rayon + [py, pp, "rensa-rmh", corpus], removed=None),
        "datasketch": dict(short="MinHash 128 + MinHashLSH t 0.8, 1 process", pkg="datasketch",
                           settings="MinHash.generator 128 perm sha1/affine32, 5-gram, MinHashLSH t=0.8 (b=9,r=13), 1 process",
                           cmd=[py, pp, "datasketch", corpus, "--removed", rm("datasketch")],
                           removed=rm("datasketch")),
        "gaoya": dict(short="MinHashStringIndex b9 r13, t 0.8", pkg="gaoya",
                      settings="MinHashStringIndex 32-bit, b=9 r=13 (117 hashes), t=0.8, word 5-gram lowercase, par_bulk_insert/query, RAYON=%d" % threads,
                      cmd=rayon + [py, pp, "gaoya", corpus, "--removed", rm("gaoya")], removed=rm("gaoya")),
    }


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_corpus(a, shared, name, corpus, truth, exe, floor, py, missing, run_dir):
    """Run every tool on one corpus. Returns (records, scores, extra, failures)."""
    work = os.path.join(run_dir, name)
    os.makedirs(work, exist_ok=True)
    results = os.path.join(work, "results.jsonl")
    scores_path = os.path.join(work, "scores.jsonl")
    for p in (results, scores_path):
        if os.path.exists(p):
            os.unlink(p)
    specs = tool_specs(exe, corpus, work, floor, py, os.path.join(shared, "peers"), a.threads)
    records, scores, extra, failures = {}, {}, {}, []
    log("%s: warming the page cache" % name)
    warm(corpus)

    def measure_once(label, spec, rnd):
        """One timed run of one tool: (record, extra) or (None, why)."""
        for p in (spec.get("removed"), spec.get("clusters")):
            if p and os.path.exists(p):
                os.unlink(p)
        log("%s: timing %s%s (load %.2f)..." % (
            name, label, " (round %d of %d)" % (rnd + 1, a.rounds) if a.rounds > 1 else "", loadavg()[0]))
        mlog = os.path.join(work, label + ".measure.log")
        b0, t0 = busy_jiffies(), time.time()
        rc = run_logged([sys.executable, os.path.join(shared, "measure.py"), "--label", label, "--corpus", corpus,
                         "--results", results, "--settings", spec["settings"], "--timeout", str(a.timeout),
                         "--log", os.path.join(work, label + ".log"), "--"] + spec["cmd"], mlog)
        busy, span = busy_jiffies() - b0, time.time() - t0
        rec = None
        if rc == 0 and os.path.exists(results):
            with open(results) as f:
                for line in f:
                    r = json.loads(line)
                    if r.get("label") == label:
                        rec = r
        if rec is None:
            return None, "measure.py failed (rc=%d): %s" % (rc, tail(mlog, 5))
        shown = [os.path.relpath(c, ROOT) if c.startswith(os.path.dirname(ROOT) + os.sep) else c
                 for c in spec["cmd"]]
        ncpu = os.cpu_count() or 1
        other = max(0.0, busy - rec["cpu_s"])
        # busy CPU of the whole machine over the measure.py call, less the tool's own: other work
        # (measure.py's own sampling and corpus line count are included: a few per cent)
        ex = {"other_cpu_s": round(other, 1), "span_s": round(span, 2),
              "cmd_from_project_root": " ".join(shlex.quote(c) for c in shown),
              "other_cpu_pct": round(100 * other / (span * ncpu), 1) if span > 0 else None}
        if rec["rc"] == 0 and not rec["timed_out"]:
            log("%s: %s wall %.1f s, cpu %.1f s, peak RSS %.0f MB, other load %.0f%%" % (
                name, label, rec["wall_s"], rec["cpu_s"], rec["max_rss_single_mb"], ex["other_cpu_pct"] or 0))
        return rec, ex

    # Every tool once a round, in the same order, so that the machine's drift reaches all of them;
    # the table shows each tool's median run (a short run is the one a burst of other load skews).
    runs = {label: [] for label in a.tools}
    for rnd in range(a.rounds):
        for label in a.tools:
            spec = specs[label]
            pkg = spec.get("pkg")
            if pkg and pkg in missing:
                continue
            if runs[label] and runs[label][-1][0] is None:
                continue
            runs[label].append(measure_once(label, spec, rnd))
    for label in a.tools:
        spec = specs[label]
        pkg = spec.get("pkg")
        if pkg and pkg in missing:
            extra[label] = {"skipped": "not installed: " + missing[pkg]}
            log("%s: %s SKIPPED (%s)" % (name, label, missing[pkg]))
            continue
        if runs[label][-1][0] is None:
            failures.append("%s: %s" % (label, runs[label][-1][1]))
            extra[label] = {"skipped": "measure.py failed"}
            continue
        done = sorted(runs[label], key=lambda r: r[0]["wall_s"])
        rec, ex = done[(len(done) - 1) // 2]
        ex = dict(ex, walls_s=[r["wall_s"] for r, _ in runs[label]])
        records[label] = rec
        extra[label] = ex
        if any(r["rc"] != 0 or r["timed_out"] for r, _ in runs[label]):
            bad = next(r for r, _ in runs[label] if r["rc"] != 0 or r["timed_out"])
            why = "timed out after %ss" % a.timeout if bad["timed_out"] else "exit status %d" % bad["rc"]
            failures.append("%s: %s (log: %s)" % (label, why, os.path.join(work, label + ".log")))
            continue
        removed = spec.get("removed")
        if removed is None:
            continue
        if "clusters" in spec:
            clog = os.path.join(work, label + ".removed.log")
            with open(removed, "w") as out, open(clog, "w") as err:
                rc = subprocess.run([sys.executable, os.path.join(HERE, "removed_ids.py"), spec["clusters"]],
                                    stdout=out, stderr=err).returncode
            if rc != 0:
                failures.append("%s: reading its clusters failed: %s" % (label, tail(clog, 3)))
                continue
        if not os.path.exists(removed):
            failures.append("%s: no removed-id list %s" % (label, removed))
            continue
        r = subprocess.run([sys.executable, os.path.join(shared, "eval_truth.py"), truth, removed,
                            "--label", "%s.%s" % (name, label)], capture_output=True, text=True)
        try:
            s = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            failures.append("%s: eval_truth.py failed (rc=%d): %s" % (label, r.returncode, r.stderr.strip()[-300:]))
            continue
        scores[label] = s
        with open(scores_path, "a") as f:
            f.write(json.dumps(s) + "\n")
    return results, scores_path, records, scores, extra, failures


# ---------------------------------------------------------------- step 5: table

def fnum(x, fmt):
    return fmt % x if x is not None else "-"


def ratio(num, den):
    return "%.2f" % (num / den) if num and den else "-"


def render(a, name, info, load_start, load_end, records, scores, extra, failures, peer_versions, missing,
           started, cmdline, run_dir):
    any_rec = next(iter(records.values()), None)
    docs = any_rec["docs"] if any_rec else None
    nbytes = any_rec["bytes"] if any_rec else None
    L = []
    L.append("# copydesk speed benchmark: %s (%s docs, %s MB)\n" % (
        name, "{:,}".format(docs) if docs else "?", "%.1f" % (nbytes / 1e6) if nbytes else "?"))
    busy = [e.get("other_cpu_pct") for e in extra.values() if e.get("other_cpu_pct") is not None]
    loaded = load_start[0] > 0.3 * (info.get("nproc") or 1) or (busy and max(busy) > 10)
    if a.note:
        L.append("> **%s**\n" % a.note)
    if loaded:
        L.append("> **Taken on a loaded machine** (1-min load %.2f at the start; other processes used up to "
                 "%.0f%% of the CPUs during a run): these timings are a smoke test, not a measurement. "
                 "Re-run on an idle machine.\n" % (load_start[0], max(busy) if busy else 0))
    L.append("- Taken: %s UTC, `%s`" % (started.strftime("%Y-%m-%d %H:%M"), cmdline))
    L.append("- Machine: %s CPUs (nproc%s), %s, %s GiB RAM, Linux %s" % (
        info.get("nproc"), ", %d usable" % info["nproc_available"] if info.get("nproc_available") not in (None, info.get("nproc")) else "",
        info.get("cpu_model", "?"), info.get("mem_total_gib", "?"), info.get("kernel")))
    L.append("- Load average (1/5/15 min): %s at the start, %s at the end" % (
        " / ".join("%.2f" % x for x in load_start), " / ".join("%.2f" % x for x in load_end)))
    L.append("- copydesk %s%s, %s; Python %s; peers: %s" % (
        info.get("copydesk_commit"), " (uncommitted changes in src/)" if info.get("copydesk_src_dirty") else "",
        info.get("rustc"), info.get("python"),
        ", ".join("%s %s" % (p, peer_versions.get(p) or "NOT INSTALLED") for p, _ in PEER_PINS)))
    L.append("")
    L.append("| tool | settings | wall s | CPU s | MB/s | peak RSS MB | RSS bytes/doc | duplicates found "
             "| recall J≥0.8 | recall all | false removals | other CPU % |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    specs = tool_specs("", "", "", "", "", "", a.threads)
    for label in a.tools:
        r, s, e = records.get(label), scores.get(label, {}), extra.get(label, {})
        short = specs[label]["short"]
        if r is None:
            L.append("| %s | %s | %s |  |  |  |  |  |  |  |  |  |" % (label, short, e.get("skipped", "not run")))
            continue
        ok = r["rc"] == 0 and not r["timed_out"]
        status = "" if ok else (" **TIMED OUT**" if r["timed_out"] else " **FAILED rc=%d**" % r["rc"])
        t = r.get("tool_output") or {}
        if s.get("removed") is not None:
            found = "{:,}".format(s["removed"])
        elif t.get("flagged") is not None:
            found = "{:,} flagged*".format(t["flagged"])
        else:
            found = "-"
        rss = r["max_rss_single_mb"]
        L.append("| %s%s | %s | %.2f | %.2f | %s | %.0f | %s | %s | %s | %s | %s | %s |" % (
            label, status, short, r["wall_s"], r["cpu_s"], fnum(r["mb_per_s"] if ok else None, "%.1f"), rss,
            "{:,.0f}".format(rss * 1048576 / r["docs"]) if ok and r["docs"] else "-", found,
            fnum(s.get("recall_j08"), "%.3f"), fnum(s.get("recall_all"), "%.3f"),
            "{:,}".format(s["false_removed"]) if "false_removed" in s else "-",
            fnum(e.get("other_cpu_pct"), "%.0f")))
    L.append("")
    if a.rounds > 1:
        L.append("Each tool ran %d times, once a round, in the order of the table; the row is its median-wall run, "
                 "and the ratios below are of medians. Walls of the rounds, in seconds:\n" % a.rounds)
        for label in a.tools:
            w = extra.get(label, {}).get("walls_s")
            if w:
                L.append("- %s: %s" % (label, ", ".join("%.2f" % x for x in w)))
        L.append("")

    def wall(lab):
        r = records.get(lab)
        return r["wall_s"] if r and r["rc"] == 0 and not r["timed_out"] else None

    def rss(lab):
        r = records.get(lab)
        return r["max_rss_single_mb"] if r and r["rc"] == 0 and not r["timed_out"] else None

    cds = [c for c in COPYDESK_LABELS if c in a.tools]
    if cds:
        L.append("### Ratios\n")
        L.append("| ratio | " + " | ".join(cds) + " |")
        L.append("|---|" + "---:|" * len(cds))
        if "floor" in a.tools:
            L.append("| floor ratio: copydesk wall ÷ floor wall (lower is better) | " +
                     " | ".join(ratio(wall(c), wall("floor")) for c in cds) + " |")
        if "floor-1t" in a.tools:
            L.append("| floor ratio, one-thread floor: copydesk wall ÷ floor-1t wall (lower is better) | " +
                     " | ".join(ratio(wall(c), wall("floor-1t")) for c in cds) + " |")
        for p in PEER_LABELS:
            if p in a.tools:
                L.append("| speed × %s: %s wall ÷ copydesk wall (above 1: copydesk faster) | " % (p, p) +
                         " | ".join(ratio(wall(p), wall(c)) for c in cds) + " |")
        for p in PEER_LABELS:
            if p in a.tools:
                L.append("| memory × %s: %s peak RSS ÷ copydesk peak RSS (above 1: copydesk smaller) | " % (p, p) +
                         " | ".join(ratio(rss(p), rss(c)) for c in cds) + " |")
        L.append("")
    if scores:
        L.append("### Recall by reprint kind (all reprints, whatever their Jaccard)\n")
        L.append("| tool | removed | correct | exact | boiler | edit | partial |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for label in a.tools:
            s = scores.get(label)
            if s:
                k = s.get("recall_by_kind", {})
                L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                    label, s["removed"], s["correct_removed"], k.get("exact", "-"), k.get("boiler", "-"),
                    k.get("edit", "-"), k.get("partial", "-")))
        first = next(iter(scores.values()))
        L.append("\nTruth: %s reprints, %s of them with word-5-gram Jaccard ≥ 0.8 to their original.\n" % (
            "{:,}".format(first["reprints"]), "{:,}".format(first["reprints_j08"])))
    if missing or failures:
        L.append("### Problems\n")
        for p, why in sorted(missing.items()):
            L.append("- peer %s not installed: %s" % (p, why))
        for f in failures:
            L.append("- run failed: %s" % f.replace("\n", " "))
        L.append("")
    L.append("### Settings and commands\n")
    for label in a.tools:
        c = extra.get(label, {}).get("cmd_from_project_root")
        L.append("- `%s`: %s%s" % (label, specs[label]["settings"], "; `%s`" % c if c else ""))
    L.append("\nCommands are shown from the project root; logs and outputs of this run: `%s`." % os.path.relpath(run_dir, ROOT))
    L.append("\nColumns are explained in bench/README.md. Peak RSS is the largest single process (GNU time), "
             "as the scoreboard reports it; the tree PSS is in the raw JSONL. `*` flagged: documents that share "
             "an LSH band with another (both members of a pair; no keep-first removal, so no recall).")
    return "\n".join(L) + "\n"


def atomic_write(path, text):
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def atomic_copy(src, dst):
    tmp = dst + ".tmp-%d" % os.getpid()
    if os.path.exists(src):
        shutil.copyfile(src, tmp)
    else:
        open(tmp, "w").close()
    os.replace(tmp, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200000, help="corpus size (default 200000)")
    ap.add_argument("--big", action="store_true", help="also run the 1,000,000-document corpus (2.35 GB)")
    ap.add_argument("--cache", default=os.path.join("target", "bench-cache"),
                    help="corpora, venv, floor build and run logs (default target/bench-cache)")
    ap.add_argument("--shared", default=os.environ.get("COPYDESK_BENCH_SHARED", os.path.join("..", "shared", "bench", "perf")),
                    help="the shared perf benchmark folder (read only; default ../shared/bench/perf)")
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "copydesk"),
                    help="copydesk binary (default target/release/copydesk)")
    ap.add_argument("--results", default=os.path.join("bench", "results"), help="where the tables go")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset of: " + ",".join(ALL_TOOLS))
    ap.add_argument("--threads", type=int, default=2, help="threads for the floor and the Rayon peers (default 2)")
    ap.add_argument("--timeout", type=float, default=3600, help="per-run kill timeout, seconds (default 3600)")
    ap.add_argument("--python", default=sys.executable, help="python that creates the peers' virtualenv")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every tool this many times, round by round, and tabulate each tool's median-wall run "
                         "(default 1; 3 evens out bursts of other load on a shared machine)")
    ap.add_argument("--note", default="", help="a line to put at the top of the table (e.g. why it was run)")
    a = ap.parse_args()
    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    bad = [t for t in a.tools if t not in ALL_TOOLS]
    if bad:
        ap.error("unknown tool(s) %s; choose from %s" % (", ".join(bad), ", ".join(ALL_TOOLS)))
    if a.docs <= 0:
        ap.error("--docs must be positive")
    if a.rounds <= 0:
        ap.error("--rounds must be positive")
    cmdline = "python3 bench/speed.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        return run(a, cmdline, started)
    except Fail as e:
        log("ERROR: %s" % e)
        return 1
    except KeyboardInterrupt:
        log("interrupted; no table written")
        return 130


def run(a, cmdline, started):
    shared = os.path.abspath(a.shared)
    for f in ("make_corpus.py", "measure.py", "eval_truth.py", "peers/py_peers.py", "floor/Cargo.toml"):
        if not os.path.exists(os.path.join(shared, f)):
            raise Fail("%s not found: give --shared (the shared bench/perf folder)" % os.path.join(shared, f))
    exe = os.path.abspath(a.bin)
    if any(t.startswith("copydesk") for t in a.tools) and not os.access(exe, os.X_OK):
        raise Fail("no executable %s: run `cargo build --release` first (or give --bin)" % exe)
    cache = os.path.abspath(a.cache)
    os.makedirs(cache, exist_ok=True)
    results_dir = os.path.abspath(a.results)
    os.makedirs(results_dir, exist_ok=True)
    load_start = loadavg()
    log("load average at start: %s" % " ".join("%.2f" % x for x in load_start))

    sizes = [a.docs] + ([1000000] if a.big and a.docs != 1000000 else [])
    corpora = [build_corpus(shared, cache, n) for n in sizes]

    py, peer_versions, missing = None, {}, {}
    if any(p in a.tools for p in PEER_LABELS):
        py, peer_versions, missing = ensure_peers(cache, a.python)
        for p, why in missing.items():
            log("WARNING: peer %s unavailable: %s" % (p, why))
    floor = build_floor(shared, cache) if any(f in a.tools for f in FLOOR_LABELS) else None

    info = machine_info()
    run_dir = os.path.join(cache, "runs", started.strftime("%Y%m%dT%H%M%S"))
    os.makedirs(run_dir, exist_ok=True)
    all_failures, written = [], []
    for name, corpus, truth in corpora:
        results, scores_path, records, scores, extra, failures = run_corpus(
            a, shared, name, corpus, truth, exe, floor, py, missing, run_dir)
        load_end = loadavg()
        table = render(a, name, info, load_start, load_end, records, scores, extra, failures, peer_versions,
                       missing, started, cmdline, os.path.join(run_dir, name))
        stamp = started.strftime("%Y-%m-%d")
        base = os.path.join(results_dir, "%s-%s" % (name, stamp))
        if any(os.path.exists(base + ext) for ext in (".md", ".jsonl", ".scores.jsonl", ".meta.json")):
            base = os.path.join(results_dir, "%s-%s" % (name, started.strftime("%Y-%m-%dT%H%M%S")))
        meta = {"corpus": name, "started_utc": started.isoformat(timespec="seconds"), "cmdline": cmdline,
                "machine": info, "load_start": load_start, "load_end": load_end, "peer_versions": peer_versions,
                "peers_missing": missing, "per_run": extra, "failures": failures, "run_dir": run_dir}
        atomic_copy(results, base + ".jsonl")
        atomic_copy(scores_path, base + ".scores.jsonl")
        atomic_write(base + ".meta.json", json.dumps(meta, indent=1) + "\n")
        atomic_write(base + ".md", table)  # last: a table on disk means its run is complete
        written.append(base + ".md")
        log("wrote %s" % os.path.relpath(base + ".md"))
        all_failures += ["%s %s" % (name, f) for f in failures]
    sys.stdout.write("".join(open(w).read() + "\n" for w in written))
    if missing:
        log("WARNING: peers not installed (shown in the table): %s" % ", ".join(sorted(missing)))
    if all_failures:
        log("ERROR: %d run(s) failed (marked in the table):\n  %s" % (len(all_failures), "\n  ".join(all_failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
