#!/usr/bin/env python3
"""The index split test (issue 7): the near-dup dev set split in two halves by sorted id.

The first half is stored with `copydesk index add`, the second is run with `dedup --against`.
That must find as many second-half documents with a stored `duplicate_of` as one `dedup` over
both halves finds second-half documents whose cluster holds a first-half document, and every
historical `duplicate_of` must name a stored id. Prints both counts; exits 1 when they differ.
Standard library only.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return done.stderr


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(root, "target/release/copydesk"))
    p.add_argument(
        "--corpus",
        default=os.path.join(root, "../shared/bench/neardup/dev/corpus.jsonl.gz"),
    )
    p.add_argument("--keep", help="keep the work files in this folder")
    p.add_argument("--show", type=int, default=20, help="list at most this many differences")
    args = p.parse_args()
    if not os.path.exists(args.corpus):
        sys.exit(f"{args.corpus}: no such corpus")

    docs = read_jsonl(args.corpus)
    ids = sorted(d["id"] for d in docs)
    first_ids = set(ids[: len(ids) // 2])
    first = [d for d in docs if d["id"] in first_ids]
    second = [d for d in docs if d["id"] not in first_ids]

    work = args.keep or tempfile.mkdtemp(prefix="copydesk-split-")
    os.makedirs(work, exist_ok=True)
    path = lambda name: os.path.join(work, name)
    write_jsonl(path("first.jsonl"), first)
    write_jsonl(path("second.jsonl"), second)
    write_jsonl(path("both.jsonl"), first + second)
    for name in ["split.index", "split.index-wal", "split.index-shm"]:
        if os.path.exists(path(name)):
            os.remove(path(name))

    b = args.bin
    run([b, "index", "add", path("split.index"), path("first.jsonl")])
    run([b, "dedup", "--against", path("split.index"), path("second.jsonl"),
         "-o", path("against.jsonl")])
    run([b, "dedup", path("both.jsonl"), "-o", path("both.clusters.jsonl")])

    against = read_jsonl(path("against.jsonl"))
    historical = {a["id"]: a["duplicate_of"] for a in against
                  if a["duplicate_of"] is not None and a["duplicate_of"] not in
                  {s["id"] for s in second}}
    unknown = [i for i, of in historical.items() if of not in first_ids]

    whole = read_jsonl(path("both.clusters.jsonl"))
    clusters_with_first = {w["cluster"] for w in whole if w["id"] in first_ids}
    crossing = {w["id"] for w in whole
                if w["id"] not in first_ids and w["cluster"] in clusters_with_first}

    print(f"documents: {len(docs)} ({len(first)} stored, {len(second)} new)")
    print(f"dedup --against: {len(historical)} second-half documents with a stored duplicate_of")
    print(f"one dedup run:   {len(crossing)} second-half documents clustered with a first-half one")
    print(f"historical matches naming an id that is not stored: {len(unknown)}")
    # Stored first, then new: the --against lines should be the one run's last lines.
    tail = whole[len(first):]
    same = sum(1 for a, w in zip(against, tail) if a == w)
    print(f"output lines identical to the one run's: {same} of {len(against)}")
    for a, w in [(a, w) for a, w in zip(against, tail) if a != w][: args.show]:
        print(f"  --against {json.dumps(a)}\n  one run   {json.dumps(w)}")
    ok = True
    for name, extra in [("only --against", sorted(set(historical) - crossing)),
                        ("only one run", sorted(crossing - set(historical)))]:
        if extra:
            ok = False
            print(f"{name}: {len(extra)}: {' '.join(extra[: args.show])}")
    if unknown:
        ok = False
        print(f"not stored: {' '.join(unknown[: args.show])}")
    print(f"work files: {work}")
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
