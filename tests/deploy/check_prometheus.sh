#!/usr/bin/env bash
# deploy/prometheus/alerts.yml: promtool accepts the rules, and
# tests/deploy/alerts_test.yml shows that they fire (and stay quiet) on
# made-up series as docs/operations.md says. $1: promtool (default: on PATH).
set -euo pipefail
promtool=${1:-promtool}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$promtool" check rules "$here/../../deploy/prometheus/alerts.yml"
cd "$here" && "$promtool" test rules alerts_test.yml
