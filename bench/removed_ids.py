#!/usr/bin/env python3
"""List the ids copydesk removed: those whose `duplicate_of` is not null.

    python3 bench/removed_ids.py CLUSTERS.jsonl > REMOVED.txt

Input is `copydesk dedup --output` JSONL, one {"id", "cluster", "duplicate_of", "similarity"} a
line. Output is one id a line, in input order, as eval_truth.py reads it. Prints the counts on
stderr; exits non-zero on a malformed line or an empty input.
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    docs = removed = 0
    out = sys.stdout
    with open(sys.argv[1], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                did = rec["id"]
                dup = rec["duplicate_of"]
            except (ValueError, KeyError, TypeError) as e:
                sys.exit("removed_ids: %s line %d: not a copydesk cluster record (%s)" % (sys.argv[1], n, e))
            docs += 1
            if dup is not None:
                removed += 1
                out.write("%s\n" % did)
    if docs == 0:
        sys.exit("removed_ids: %s holds no records" % sys.argv[1])
    print("removed_ids: %d docs, %d removed" % (docs, removed), file=sys.stderr)


if __name__ == "__main__":
    main()
