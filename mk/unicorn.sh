#!/bin/sh
# Fetch Unicorn 2.1.1 into a build-independent cache dir (default
# third_party/unicorn-2.1.1): include/unicorn/*.h and lib/libunicorn.a.
#
# Why: bookworm's libunicorn 2.0.1 sends every guest store through
# notdirty_write/page_collection_lock (~110 ns per store, unicorn issue
# #1970); 2.1.1 stores cost ~4 ns.  Debian's mirror serves no source
# tarballs here, so we take trixie's libunicorn-dev .deb, which ships the
# static library (all architectures; needs only glibc >= 2.34, -lm,
# -lpthread).  Its sha256 is the one in trixie's Packages index.
#
# Idempotent (a stamp file), safe to run from parallel makes (flock), and
# prints one line of progress, or one line of error and exits 1.
set -eu
dir=${1:-third_party/unicorn-2.1.1}
deb=libunicorn-dev_2.1.1-2+b2_amd64.deb
url=http://deb.debian.org/debian/pool/main/u/unicorn-engine/libunicorn-dev_2.1.1-2%2bb2_amd64.deb
sha=479613e244a6023c03708951a5f0e00fc96c83a4b74b4d74c9fe7d3a9050208b
stamp="$dir/.stamp"

fail() {
	echo "unicorn: $*" >&2
	exit 1
}

# ok: the cache holds what this script would produce.
ok() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ] && [ -f "$dir/lib/libunicorn.a" ]; }

[ "$(uname -m)" = x86_64 ] || fail "only x86_64 hosts are supported (use make UNICORN=system)"
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if ok; then
	touch "$stamp"
	exit 0
fi
echo "unicorn: fetching 2.1.1 ($deb) into $dir"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if command -v curl >/dev/null 2>&1; then
	curl -sSfL -o "$tmp/$deb" "$url" 2>"$tmp/log" || fail "download of $url failed: $(tail -n1 "$tmp/log")"
elif command -v wget >/dev/null 2>&1; then
	wget -q -O "$tmp/$deb" "$url" 2>"$tmp/log" || fail "download of $url failed: $(tail -n1 "$tmp/log")"
else
	fail "neither curl nor wget found (run sh mk/deps.sh)"
fi
echo "$sha  $tmp/$deb" | sha256sum -c --status || fail "sha256 mismatch for $deb"
dpkg-deb -x "$tmp/$deb" "$tmp/x" || fail "cannot unpack $deb"
lib="$tmp/x/usr/lib/x86_64-linux-gnu/libunicorn.a"
[ -f "$lib" ] && [ -f "$tmp/x/usr/include/unicorn/unicorn.h" ] || fail "$deb lacks libunicorn.a or headers"
mkdir -p "$tmp/out/lib"
mv "$tmp/x/usr/include" "$tmp/out/include"
mv "$lib" "$tmp/out/lib/"
echo "$sha" >"$tmp/out/.stamp"
rm -rf "$dir"
mv "$tmp/out" "$dir"
