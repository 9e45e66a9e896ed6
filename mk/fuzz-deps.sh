#!/bin/sh
# Install what `make fuzz` and the fuzz check of `make test` need when it
# is missing: clang and its libFuzzer runtime (Debian 12: clang-14,
# libclang-rt-14-dev).  Runs apt-get only as root, like mk/deps.sh.
set -e
pkgs="clang-14 libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "fuzz-deps: installing$missing"
	apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
	echo "fuzz-deps: missing Debian packages:$missing (run as root or install them)" >&2
	exit 1
fi
