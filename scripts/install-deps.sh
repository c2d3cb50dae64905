#!/usr/bin/env bash
# Installs every Debian package Hoist needs to build, test and benchmark. Idempotent; run as root.
set -euo pipefail
packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  libseccomp-dev libcap-dev nlohmann-json3-dev libcli11-dev
  libssl-dev libcurl4-openssl-dev libarchive-dev libzstd-dev zlib1g-dev libboost-dev
  libnl-route-3-dev libnl-nf-3-dev libnftables-dev libyaml-cpp-dev libgit2-dev
  # tests
  libgtest-dev libgmock-dev busybox-static jq file procps bsdutils
  # an SSH agent and a key for the RUN --mount=type=ssh tests; a private sshd serving a git
  # repository for ADD of an ssh git URL (the system's own sshd is disabled below)
  openssh-client openssh-server
  # a real registry for the image tests (plain, TLS, htpasswd, token), its tools, the test servers
  docker-registry openssl apache2-utils python3 curl zstd
  # git: the tests' repositories and their git daemon (the build's git contexts)
  git
  # image tools used as oracles and benchmark peers; debootstrap builds the benchmark's Debian image
  skopeo umoci docker.io debootstrap
  # real Docker API clients the engine is tested with
  python3-docker docker-compose
  # reference runtimes (test oracles and benchmark peers) and the benchmark driver
  runc crun hyperfine
  # peers the integration tests drive hoist-runtime through
  podman containerd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
# openssh-server is for the tests' private sshd: the service Debian's postinst starts is not kept.
if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi
echo "install-deps: installed ${missing[*]}"
