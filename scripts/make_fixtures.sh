#!/bin/sh
# Regenerates every committed PyTorch fixture: runs each scripts/fixtures_*.py with Debian's python3-torch.
# CI never runs this; it reads the committed files under test/fixtures/.
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3
for f in fixtures_*.py; do
  echo "== $f"
  "$PY" "$f"
done
