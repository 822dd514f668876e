#!/usr/bin/env bash
# Runs `sdalab --bench-gui` on every lesson under Xvfb, one after the other, and writes one
# report per lesson to assets/bench/gui-NAME.md (frame times while sampling, edit → first
# frame, draft and full-posterior times). Usage: benches/gui_lessons.sh [BINARY] [LESSON…]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sdalab}
shift || true
lessons=("$@")
if [ ${#lessons[@]} -eq 0 ]; then
  for f in assets/presets/*.json; do lessons+=("$(basename "$f" .json)"); done
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
for name in "${lessons[@]}"; do
  echo "== $name"
  xvfb-run -a -s "-screen 0 1600x1000x24" "$bin" --preset "$name" --bench-gui "assets/bench/gui-$name.md"
  tail -n 1 "assets/bench/gui-$name.md"
done
