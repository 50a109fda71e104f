#!/usr/bin/env bash
# Sets up everything Sieve needs on a fresh machine: the system libraries Qt's window system
# plugin loads (Debian/Ubuntu, installed with apt when missing), a virtualenv, torch and Sieve.
# Usage: scripts/setup.sh [VENV_DIR]   (default .venv). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}

# Qt's xcb platform plugin (a real window) and Xvfb (a virtual screen for headless runs).
APT_PACKAGES=(libgl1 libegl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 xvfb xauth)

install_system_packages() {
  command -v dpkg-query >/dev/null || return 0
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "setup: please install these packages for the GUI: ${missing[*]}" >&2
      return 0
    fi
  fi
  echo "setup: installing system packages for the GUI: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

install_system_packages

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating the virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip >/dev/null
# torch 2.14.1 / torchvision 0.29.1 are the newest this project asks for (they also run on CPU).
if ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "setup: installing torch and torchvision"
  "${PIP[@]}" install "torch==2.14.1" "torchvision==0.29.1"
fi
echo "setup: installing Sieve and its dependencies"
"${PIP[@]}" install -e ".[dev]"
# Sieve's own modules compiled now (pip compiles the dependencies it installs, not an editable
# project): the first launch imports them without compiling (the window 0.8 s sooner, each index
# process 0.1 s), also where PYTHONDONTWRITEBYTECODE keeps Python from writing them itself.
"$VENV/bin/python" -m compileall -q app >/dev/null
echo "setup: done ($VENV/bin/sieve)"
