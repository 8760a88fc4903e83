#!/usr/bin/env bash
# Builds, without any container registry, the images the Docker-path tests
# need in their `FROM` lines, and loads them into the local Docker daemon:
#
#   base     a muslrust-compatible builder base (what clux/muslrust gives:
#            cargo + rustc, a musl C compiler, git, CA certificates) made
#            from Debian bookworm packages with debootstrap: musl-tools,
#            gcc, libunwind-14-dev and bookworm-security's rustc-web,
#            cargo-web and rust-web-src (the std sources muslrust-chef
#            builds a musl std from).
#   runtime  a minimal runtime base in the shape of chainguard/static:
#            passwd/group with root, nobody and nonroot (65532), a CA
#            bundle, /tmp 1777, /home/nonroot. No shell, no package manager.
#
# Usage: scripts/docker-test-base.sh base|runtime [TAG]
# Idempotent: an image that already exists under TAG is kept (delete it with
# `docker rmi TAG` to rebuild). Needs root, debootstrap and a Debian mirror.
set -euo pipefail

log() { printf 'docker-test-base: %s\n' "$*" >&2; }

DOCKER=${DOCKER:-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
what=${1:-}

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

build_base() {
  local tag=${1:-muslrust-chef-test/muslrust:local}
  if have_image "$tag"; then log "$tag exists"; echo "$tag"; return; fi
  local root
  root=$(mktemp -d /tmp/muslrust-base.XXXXXX)
  trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' RETURN
  log "debootstrap bookworm into $root (a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$MIRROR" >/dev/null
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
  # Trust the same extra CAs as this machine (a TLS-inspecting proxy in
  # front of the crate registry, for example).
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  mount -t proc proc "$root/proc"
  log "installing the musl toolchain and Rust inside"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends musl-tools gcc libc6-dev libunwind-14-dev git ca-certificates >/dev/null &&
      apt-get install -y -qq --no-install-recommends -t bookworm-security rustc-web cargo-web rust-web-src >/dev/null &&
      update-ca-certificates >/dev/null &&
      apt-get clean && rm -rf /var/lib/apt/lists/*'
  umount "$root/proc"
  mkdir -p "$root/volume"
  log "importing as $tag"
  tar -C "$root" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /volume' \
    --change 'CMD ["bash"]' \
    - "$tag" >/dev/null
  echo "$tag"
}

build_runtime() {
  local tag=${1:-muslrust-chef-test/static:local}
  if have_image "$tag"; then log "$tag exists"; echo "$tag"; return; fi
  local root
  root=$(mktemp -d /tmp/muslrust-runtime.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root"/{etc/ssl/certs,tmp,home/nonroot,root}
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chown 65532:65532 "$root/home/nonroot"
  log "importing as $tag"
  tar -C "$root" --numeric-owner -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532' \
    - "$tag" >/dev/null
  echo "$tag"
}

case "$what" in
  base) build_base "${2:-}" ;;
  runtime) build_runtime "${2:-}" ;;
  *) echo "usage: $0 base|runtime [TAG]" >&2; exit 2 ;;
esac
