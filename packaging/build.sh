#!/usr/bin/env bash
# Builds the one-folder bundle dist/Sieve with PyInstaller (packaging/sieve.spec) and prints its
# size and build time. Usage: packaging/build.sh   (PYTHON: the venv's python, default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
started=$(date +%s)
rm -rf dist/Sieve dist/Sieve.app
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/sieve.spec
seconds=$(($(date +%s) - started))
echo "bundle: dist/Sieve, $(du -sh dist/Sieve | cut -f1), built in ${seconds} s"
