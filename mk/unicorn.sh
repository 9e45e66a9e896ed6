#!/bin/sh
# Fetch Unicorn 2.1.1 into a build-independent cache dir (default
# third_party/unicorn-2.1.1): include/unicorn/*.h and lib/libunicorn.a.
#
# Why: bookworm's libunicorn 2.0.1 sends every guest store through
# notdirty_write/page_collection_lock (~110 ns per store, unicorn issue
# #1970); 2.1.1 stores cost ~4 ns.  Debian's mirror serves no source
# tarballs here, so we take trixie's libunicorn-dev .deb, which ships the
# static library (all architectures; needs only glibc >= 2.34, -lm,
# -lpthread).
#
# Where from: the Debian mirror this machine's apt already uses (the URIs
# of its Debian entries, from `apt-get indextargets`), with the suite
# changed to trixie.  apt-get runs on a private state, cache and source
# list in a temporary directory (the system's apt state is only read), so
# the index is checked against the Debian archive keyring as for any apt
# download; the version is pinned and the .deb's sha256 is checked too
# (the one in trixie's Packages index).
#
# Idempotent (a stamp file), safe to run from parallel makes (flock), and
# prints one line of progress, or one line of error and exits 1.
set -eu
dir=${1:-third_party/unicorn-2.1.1}
# apt resolves its Dir:: settings against its own root: give it absolute paths
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
pkg=libunicorn-dev
ver=2.1.1-2+b2
suite=trixie
sha=479613e244a6023c03708951a5f0e00fc96c83a4b74b4d74c9fe7d3a9050208b
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
stamp="$dir/.stamp"

fail() {
	echo "unicorn: $*" >&2
	exit 1
}

# ok: the cache holds what this script would produce.
ok() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ] && [ -f "$dir/lib/libunicorn.a" ]; }

# The last error or warning apt wrote to file $1 (or its last line).
apt_why() {
	grep -E '^(E|W|Err):' "$1" | tail -n1 | grep . || tail -n1 "$1"
}

# The URIs of the machine's Debian archive entries: release info says
# Origin and Label "Debian" and a codename without a suffix (not -updates,
# -security, -backports); without release info (apt-get update never ran),
# the entries whose suite is the system's codename.
mirrors() {
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	apt-get indextargets --format \
		'$(TARGET_OF) $(IDENTIFIER) $(ORIGIN) $(LABEL) $(CODENAME) $(RELEASE) $(REPO_URI)' |
		awk -v c="$codename" '$1 == "deb" && $2 == "Packages" &&
			(($3 == "Debian" && $4 == "Debian" && $5 !~ /-/) || (c != "" && $6 == c)) {
			print $7 }' | sort -u
}

[ "$(uname -m)" = x86_64 ] || fail "only x86_64 hosts are supported (use make UNICORN=system)"
command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (use make UNICORN=system)"
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if ok; then
	touch "$stamp"
	exit 0
fi
uris=$(mirrors) || true
[ -n "$uris" ] || fail "no Debian mirror in this machine's apt sources (apt-get indextargets)"
where=$(echo "$uris" | paste -sd ' ')
echo "unicorn: fetching $pkg $ver from $suite into $dir"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
apt="$tmp/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/empty" "$tmp/deb"
signed=""
[ -f "$keyring" ] && signed=" signed-by=$keyring"
for u in $uris; do
	echo "deb [arch=amd64 target=Packages$signed] $u $suite main"
done >"$apt/sources.list"
# Read after the system's config (so its proxy and validity settings
# apply): private state, cache and sources, and none of the system's
# update hooks (they clean or refresh the system's caches).
cat >"$apt/apt.conf" <<EOF
Dir::State "$apt";
Dir::State::lists "$apt/lists/";
Dir::State::extended_states "$apt/extended_states";
Dir::Cache "$apt/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc::sourcelist "$apt/sources.list";
Dir::Etc::sourceparts "$apt/empty";
Dir::Etc::preferencesparts "$apt/empty";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear APT::Update::Post-Invoke-Stats;
EOF
# as root, apt downloads as user _apt: let it write there
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
	chmod 755 "$tmp" "$apt"
	chown _apt "$apt/lists/partial" "$apt/cache/archives/partial" "$tmp/deb"
fi
apt-get -c "$apt/apt.conf" -q update >"$tmp/log" 2>&1 ||
	fail "apt-get update of $suite from $where failed: $(apt_why "$tmp/log")"
(cd "$tmp/deb" && apt-get -c "$apt/apt.conf" -q download "$pkg=$ver") >"$tmp/log" 2>&1 ||
	fail "apt-get download $pkg=$ver from $suite failed: $(apt_why "$tmp/log")"
set -- "$tmp"/deb/*.deb
[ -f "$1" ] || fail "apt-get download $pkg=$ver left no .deb"
echo "$sha  $1" | sha256sum -c --status 2>/dev/null || fail "sha256 mismatch for $(basename "$1")"
dpkg-deb -x "$1" "$tmp/x" || fail "cannot unpack $(basename "$1")"
lib="$tmp/x/usr/lib/x86_64-linux-gnu/libunicorn.a"
[ -f "$lib" ] && [ -f "$tmp/x/usr/include/unicorn/unicorn.h" ] ||
	fail "$(basename "$1") lacks libunicorn.a or headers"
mkdir -p "$tmp/out/lib"
mv "$tmp/x/usr/include" "$tmp/out/include"
mv "$lib" "$tmp/out/lib/"
echo "$sha" >"$tmp/out/.stamp"
rm -rf "$dir"
mv "$tmp/out" "$dir"
