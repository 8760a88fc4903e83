#!/bin/sh
# Installs what muslrust-chef needs to cross-compile for linux/arm64 on an
# amd64 Debian or Ubuntu based builder image: the aarch64 C cross compiler,
# musl for arm64, LLVM's libunwind for arm64 (unpacked privately, it cannot
# be co-installed with the amd64 one) and, where rustup manages Rust, the
# aarch64 musl std. Does nothing on other architectures.
set -eu

[ "$(uname -m)" = "x86_64" ] || { echo "install-cross-arm64: not amd64, nothing to do"; exit 0; }
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive

if [ "$ID" = "ubuntu" ]; then
  # Ubuntu serves arm64 packages from ports.ubuntu.com: pin the existing
  # sources to amd64 and add the ports archive for arm64.
  if [ -f /etc/apt/sources.list.d/ubuntu.sources ]; then
    sed -i '/^Types:/a Architectures: amd64' /etc/apt/sources.list.d/ubuntu.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    sed -i 's/^deb \(http\)/deb [arch=amd64] \1/' /etc/apt/sources.list
  fi
  cat >/etc/apt/sources.list.d/ubuntu-ports-arm64.list <<SRC
deb [arch=arm64] http://ports.ubuntu.com/ubuntu-ports ${VERSION_CODENAME} main universe
deb [arch=arm64] http://ports.ubuntu.com/ubuntu-ports ${VERSION_CODENAME}-updates main universe
SRC
fi

dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu musl-dev:arm64 >/dev/null

tmp=$(mktemp -d)
cd "$tmp"
unwind=""
for v in 14 15 16 17 18 19; do
  if apt-get download -qq "libunwind-$v-dev:arm64" 2>/dev/null; then unwind=$v; break; fi
done
if [ -n "$unwind" ]; then
  mkdir -p /opt/muslrust-chef/libunwind-arm64
  dpkg-deb -x libunwind-*_arm64.deb /opt/muslrust-chef/libunwind-arm64
fi
cd /
rm -rf "$tmp"

if command -v rustup >/dev/null 2>&1; then
  rustup target add aarch64-unknown-linux-musl
fi
apt-get clean
rm -rf /var/lib/apt/lists/*
