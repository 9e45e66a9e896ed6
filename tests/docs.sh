#!/bin/sh
# The README and docs/ say what works: every fenced block marked for
# testing is run here, in order, per Markdown file.
#
#   ```xml test=NAME.xml     written to NAME.xml in the test directory
#   ```sh test               run line by line, as a user would type them
#   ```text                  shown only: output, protocol lines, a diagram
#   ```c                     shown only: a component's source
#
# Any other fenced block, and a command or config shown as an indented
# block (a line "    capsule ..." or "    <..."), fails: what a reader
# may type is a `test` block.  The port 127.0.0.1:7001 in a command is
# replaced by one free for this run (several runs share the machine).
# The test directory (one per file) has `build` pointing at the build
# directory and `examples` at the tree's examples, so the commands run as
# written from a checkout; `capsule` is the build's.  A line ending in
# `&` that starts a node with --control SOCK is followed by waiting until
# the node answers ps there (what a user does by looking).  A block fails
# if a line fails; background nodes are stopped at the end of the file.
b=${1:-build}
src=$(pwd)
babs=$(cd "$b" && pwd) || exit 1
fail=0
ran=0

bad() { echo "docs: FAIL $*"; fail=1; }

# blocks FILE: "LINE<TAB>KIND<TAB>ARG" headers and bodies to stdout as a
# shell script built by awk: xml blocks become here-documents, sh blocks
# a sequence of `step 'LINE'` calls
blocks() {
	awk -v file="$1" '
	function q(s) { gsub(/\x27/, "\x27\\\x27\x27", s); return "\x27" s "\x27" }
	/^```(text|c)$/ && !inb { inb = 2; next }
	/^```/ && !inb && !/^```(xml|sh) test/ {
		print "unmarked " q(file ":" NR ": " $0 " (mark it test, text or c)")
		inb = 2; next
	}
	/^    (capsule |<[a-z])/ && !inb {
		print "unmarked " q(file ":" NR ": an indented command or config (make it a fenced test block)")
		next
	}
	/^```(xml|sh) test/ && !inb {
		inb = 1; kind = ($0 ~ /^```xml/) ? "xml" : "sh"; start = NR
		name = $0; sub(/.*test=?/, "", name)
		if (kind == "xml") print "cat >" q(name) " <<\x27CAPSULE_DOC_EOF\x27"
		else print "block " q(file ":" start)
		next
	}
	inb == 2 && /^```/ { inb = 0; next }
	inb == 2 { next }
	inb && /^```/ {
		inb = 0
		if (kind == "xml") print "CAPSULE_DOC_EOF"
		next
	}
	inb && kind == "xml" { print; next }
	inb && kind == "sh" {
		line = $0
		while (line ~ /\\$/ && (getline more) > 0) { sub(/\\$/, "", line); line = line more }
		sub(/[ \t]+#.*$/, "", line)
		if (line ~ /^[ \t]*$/) next
		print "step " q(line)
	}' "$1"
}

for md in README.md docs/*.md; do
	[ -f "$md" ] || continue
	grep -q '^```\|^    \(capsule \|<[a-z]\)' "$md" || continue
	dir=$(mktemp -d /tmp/capsule-docs.XXXXXX)
	ln -s "$babs" "$dir/build"
	ln -s "$src/examples" "$dir/examples"
	blocks "$md" >"$dir/script.sh"
	(
		cd "$dir" || exit 1
		PATH=$babs:$PATH
		where=
		pids=
		status=0
		port=$((20000 + ($$ + ran * 7) % 30000))
		block() { where=$1; }
		unmarked() {
			echo "docs: FAIL $1"
			status=1
		}
		# step LINE: run it; a background node is waited for
		step() {
			set -- "$(echo "$1" | sed "s/127\.0\.0\.1:7001/127.0.0.1:$port/g")"
			case "$1" in
			*'&')
				sh -c "exec ${1%&}" >>"$dir/bg.log" 2>&1 &
				pids="$pids $!"
				sock=$(echo "$1" | sed -n 's/.*--control[ =]\([^ ]*\).*/\1/p')
				i=0
				while [ -n "$sock" ] && ! capsule ps --node "$sock" >/dev/null 2>&1; do
					i=$((i + 1))
					[ $i -gt 200 ] && break
					sleep 0.05
				done
				;;
			*)
				if ! timeout -k 10 60 sh -c "$1" >"$dir/out" 2>&1; then
					echo "docs: FAIL $where: '$1': $(tail -n 3 "$dir/out")"
					status=1
				else
					echo "docs: PASS $where: $1"
				fi
				;;
			esac
		}
		. "$dir/script.sh"
		for p in $pids; do kill -TERM "$p" 2>/dev/null; done
		wait
		exit $status
	) || fail=1
	ran=$((ran + 1))
	rm -rf "$dir"
done
[ $ran -ge 1 ] || bad "no block marked for testing in README.md or docs/"
exit $fail
