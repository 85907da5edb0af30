#!/usr/bin/env bash
# One command for the speed/memory benchmark (issue 6): builds copydesk, then runs bench/speed.py.
#   bench/speed.sh                 # 200k-document corpus
#   bench/speed.sh --big           # 200k and 1M
#   bench/speed.sh --docs 20000    # quick smoke test
# All options go to bench/speed.py (see `bench/speed.sh --help`). Take timings on an idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case " $* " in
  *" -h "*|*" --help "*) exec python3 bench/speed.py --help ;;
esac
echo "speed: cargo build --release" >&2
cargo build --release --quiet || { echo "speed: ERROR: cargo build --release failed" >&2; exit 1; }
exec python3 bench/speed.py "$@"
