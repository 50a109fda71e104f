#!/usr/bin/env bash
# Exit 0 when the bundle should be rebuilt and tested (make bundle-test), 1 when not: CI runs it
# only when the last commit changed the packaging or the dependencies. The commits compared:
# SIEVE_BUNDLE_BASE..HEAD (default HEAD~1). SIEVE_BUNDLE_TEST=1 forces the test, =0 skips it.
# A clone without the base commit (shallow, one commit) cannot tell, and skips with a note.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${SIEVE_BUNDLE_TEST:-}" in
  1) echo "bundle-test: forced (SIEVE_BUNDLE_TEST=1)"; exit 0 ;;
  0) echo "bundle-test: skipped (SIEVE_BUNDLE_TEST=0)"; exit 1 ;;
esac
base=${SIEVE_BUNDLE_BASE:-HEAD~1}
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null 2>&1; then
  echo "bundle-test: skipped (no $base in this clone to compare with; SIEVE_BUNDLE_TEST=1 forces it)"
  exit 1
fi
pattern='^(packaging/|pyproject\.toml$|scripts/setup\.sh$|requirements[^/]*\.txt$|app/__main__\.py$|app/cli/self_test\.py$|app/core/paths\.py$|resources/linux/)'
changed=$(git diff --name-only "$base" HEAD | grep -E "$pattern" || true)
if [ -z "$changed" ]; then
  echo "bundle-test: skipped (no packaging or dependency file changed since $base)"
  exit 1
fi
echo "bundle-test: needed; changed since $base:"
echo "$changed" | sed 's/^/  /'
exit 0
