#!/usr/bin/env bash
# The index split test (issue 7): build copydesk, then run bench/index_split.py.
# Usage: bench/index_split.sh [--corpus FILE] [--keep DIR] [--bin BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 bench/index_split.py "$@"
