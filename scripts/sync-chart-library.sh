#!/usr/bin/env bash
# Copies the library's ConstraintTemplates into the chart (a chart cannot read files outside its
# directory). library/ is the source; crates/cli/tests/helm_chart.rs fails when the copies differ.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in signet-verification signet-provenance signet-sbom signet-vulnerabilities; do
  mkdir -p "charts/signet/files/library/$t"
  cp "library/$t/template.yaml" "charts/signet/files/library/$t/template.yaml"
done
echo "sync-chart-library: copied"
