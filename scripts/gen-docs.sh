#!/usr/bin/env bash
# Regenerate the man pages (man/) and shell completions (completions/) from
# the clap definitions. A test fails while they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
MAESTRO_HA_BLESS=1 cargo test --locked --test generated
git status --short man completions
