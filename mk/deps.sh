#!/bin/sh
# Install the Debian packages capsule needs, when they are missing (or the
# packages named as arguments, e.g. by mk/fuzz-deps.sh).
# Runs apt-get only as root; otherwise names what is missing and fails.
set -e
pkgs="gcc make pkg-config libunicorn-dev libzstd-dev libxxhash-dev libxml2-dev \
libcmocka-dev libcap-dev libsodium-dev libssl-dev clang-format"
[ $# -gt 0 ] && pkgs="$*"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
	echo "deps: missing Debian packages:$missing (run as root or install them)" >&2
	exit 1
fi
