#!/usr/bin/env python3
"""Break the passage pairs of a `copydesk passages` run on neardup/dev down by cause.

usage (from the project root):
    copydesk passages ../shared/bench/neardup/dev/corpus.jsonl.gz --output /tmp/p.jsonl
    python3 bench/passages_breakdown.py /tmp/p.jsonl [--per-document] [--examples N]

Pairs are counted exactly as scoreboard.py counts them: every pair of distinct ids in one
passage's `occurrences`, kept when the two ids are in different truth clusters; a pair is
"listed" when it is a (host, source) partial pair, and "false" otherwise. `--per-document`
also counts the ids under each occurrence's `copies` (every document the passage stands in).

The false pairs are split by cause, with the generator's meta and source pool (diagnostics
only; copydesk never reads them):

  host-reprint   a partial host and a copy (not the listed source) of a story it quotes
  host-host      two hosts that quote the same source story (they truly share the statement)
  host-other     a host and a document of a story it does not quote; "in both sources" when the
                 passage is in the other story's source article too (the wire reused the text)
  story-story    two non-host documents of different stories; "in both sources" when both source
                 articles hold the passage (shared wire text the truth does not list), otherwise
                 it is text the generator added (furniture, related-story headlines, bylines)

A passage is "in" a source article when at least half of its word 3-grams are, as it stands in
one of the passage's documents or as its representative text.
Standard library only.
"""
import argparse
import collections
import gzip
import itertools
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "shared", "bench", "neardup")


def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def words(s):
    return re.findall(r"\w+", s.lower())


def grams(ws, n=3):
    return {" ".join(ws[i:i + n]) for i in range(max(0, len(ws) - n + 1))} or {" ".join(ws)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pred")
    ap.add_argument("--bench", default=BENCH)
    ap.add_argument("--per-document", action="store_true")
    ap.add_argument("--examples", type=int, default=0)
    a = ap.parse_args()
    dev = os.path.join(a.bench, "dev")
    truth = {r["id"]: r["cluster"] for r in read_jsonl(os.path.join(dev, "truth.jsonl.gz"))}
    meta = {r["id"]: r for r in read_jsonl(os.path.join(dev, "meta.jsonl.gz"))}
    text = {r["id"]: r["text"] for r in read_jsonl(os.path.join(dev, "corpus.jsonl.gz"))}
    pool = {}
    for r in read_jsonl(os.path.join(a.bench, "sources", "dev_pool.jsonl.gz")):
        pool[r["src"]] = grams(words(" ".join([r.get("title") or ""] + r["paras"])))
    partial_rows = list(read_jsonl(os.path.join(dev, "partial_pairs.jsonl.gz")))
    partial = {frozenset((r["host"], r["source"])) for r in partial_rows}
    quoted = collections.defaultdict(set)  # host -> source clusters it quotes
    for r in partial_rows:
        quoted[r["host"]].add(r["source_cluster"])

    def in_source(doc, spans, ptext):
        """The passage (as it stands in any of its documents, or its text) is in doc's source."""
        src = pool.get(meta[doc].get("source"), set())
        for t in [text[d][s:e] for d, (s, e) in spans.items()] + [ptext]:
            g = grams(words(t))
            if len(g & src) >= 0.5 * len(g):
                return True
        return False

    together = set()  # listed pairs whose two documents stand in one passage, copies included
    pairs = {}  # pair -> (passage number, spans by id, text)
    n_passages = n_occ = n_copies = 0
    for p in read_jsonl(a.pred):
        n_passages += 1
        spans = {}
        for o in p["occurrences"]:
            n_occ += 1
            spans.setdefault(o["id"], (o["start"], o["end"]))
            for c in o.get("copies", []):
                n_copies += 1
                if a.per_document:
                    spans.setdefault(c["id"], (c["start"], c["end"]))
        everyone = {o["id"] for o in p["occurrences"]}
        everyone |= {c["id"] for o in p["occurrences"] for c in o.get("copies", [])}
        together |= {q for q in partial if q <= everyone}
        for x, y in itertools.combinations(sorted(spans), 2):
            if truth.get(x) != truth.get(y):
                pairs.setdefault(frozenset((x, y)), (p["passage"], spans, p["text"]))

    causes = collections.Counter()
    examples = collections.defaultdict(list)
    for pair, (n, spans, ptext) in pairs.items():
        if pair in partial:
            continue
        x, y = sorted(pair)
        hx, hy = x in quoted, y in quoted
        both = in_source(x, spans, ptext) and in_source(y, spans, ptext)
        if hx and hy:
            cause = "host-host" if quoted[x] & quoted[y] else "host-other"
        elif hx or hy:
            h, o = (x, y) if hx else (y, x)
            if truth[o] in quoted[h]:
                cause = "host-reprint"
            else:
                cause = "host-other, in both sources" if in_source(o, spans, ptext) else "host-other, added text"
        else:
            cause = "story-story, in both sources" if both else "story-story, added text"
        causes[cause] += 1
        if len(examples[cause]) < a.examples:
            examples[cause].append((x, y, n, " ".join(ptext.split())[:150]))

    listed = len(set(pairs) & partial)
    false = len(pairs) - listed
    print(f"passages {n_passages}, occurrences {n_occ}, copies under them {n_copies}; "
          f"counting {'every document' if a.per_document else 'occurrences only (as scoreboard.py)'}")
    print(f"cross-cluster pairs {len(pairs)}: listed partial pairs {listed} / {len(partial)} "
          f"(recall {listed / len(partial):.3f}), false {false} (false rate {false / max(1, len(pairs)):.3f})")
    print(f"listed pairs whose documents stand in one passage, copies included: {len(together)} / {len(partial)}")
    order = ["host-reprint", "host-host", "host-other, in both sources", "host-other, added text",
             "story-story, in both sources", "story-story, added text"]
    for cause in order:
        c = causes[cause]
        print(f"  {cause:30s} {c:6d}  {c / max(1, false):6.1%} of false")
    for cause in order:
        if examples[cause]:
            print(f"examples: {cause}")
            for x, y, n, t in examples[cause]:
                print(f"  {x} {y} passage {n}: {t}")


if __name__ == "__main__":
    main()
