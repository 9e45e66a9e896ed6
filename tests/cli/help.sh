#!/bin/sh
# What a user meets first: `capsule`, `capsule --help`, `capsule help CMD`,
# `capsule CMD --help`, `--version`, option errors, --opt=value, the man
# page and bash completion that `make install PREFIX=...` installs, and
# that a second make after the build has nothing to do.
b=${1:-build}
cap=$b/capsule
tmp=$(mktemp -d /tmp/capsule-help.XXXXXX)
fail=0
trap 'rm -rf "$tmp"' EXIT

bad() { echo "cli-help: FAIL $*"; fail=1; }
ok() { echo "cli-help: PASS $*"; }

# expect NAME RC STREAM PATTERN CMD...: exit code RC and PATTERN on STREAM
# (out or err); a usage error is exactly one line on stderr
expect() {
	name=$1 rc=$2 stream=$3 pat=$4
	shift 4
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne "$rc" ] || ! grep -q -- "$pat" "$tmp/$stream"; then
		bad "$name (rc $got, want $rc; $stream: $(head -c 300 "$tmp/$stream"))"
	elif [ "$rc" = 2 ] && [ "$stream" = err ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		bad "$name: not one line: $(cat "$tmp/err")"
	else
		ok "$name"
	fi
}

cmds=$("$cap" help --list) || bad "help --list"
for c in run node ps checkpoint restore migrate inspect keygen help; do
	echo "$cmds" | grep -qx "$c" || bad "help --list lacks $c"
done

"$cap" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && [ ! -s "$tmp/out" ] || bad "capsule alone: rc or stdout"
"$cap" --help >"$tmp/help" 2>&1 || bad "capsule --help failed"
"$cap" help >"$tmp/help2" 2>&1 || bad "capsule help failed"
cmp -s "$tmp/help" "$tmp/help2" || bad "capsule --help and capsule help differ"
cmp -s "$tmp/help" "$tmp/err" || bad "capsule alone does not print the overview"
for c in $cmds; do
	[ "$c" = help ] && continue
	grep -q "^  $c  *[a-z]" "$tmp/help" || bad "the overview lacks '$c' with its summary"
	"$cap" help "$c" >"$tmp/h1" 2>&1 || bad "capsule help $c failed"
	"$cap" "$c" --help >"$tmp/h2" 2>&1 || bad "capsule $c --help failed"
	"$cap" "$c" -h >"$tmp/h3" 2>&1 || bad "capsule $c -h failed"
	cmp -s "$tmp/h1" "$tmp/h2" && cmp -s "$tmp/h1" "$tmp/h3" ||
		bad "help $c, $c --help and $c -h differ"
	for want in "^usage: capsule $c" "^example:" "^  capsule $c " "^exit status:" \
		"^  -q, --quiet" "^  -v, --verbose"; do
		grep -q -- "$want" "$tmp/h1" || bad "help $c lacks '$want'"
	done
	# every option of the table is explained, aliases too
	"$cap" help --list "$c" | while read -r opt arg; do
		grep -q -- "$opt" "$tmp/h1" || echo "$opt" >>"$tmp/missing"
	done
done
[ -s "$tmp/missing" ] && bad "options without help: $(cat "$tmp/missing")"
ok "every command has help with its options, an example and exit codes"

expect "--version" 0 out '^capsule [^ ]* (image format [0-9][0-9]*, checkpoint ABI [0-9][0-9]*)$' \
	"$cap" --version
expect "unknown command" 2 err "^capsule: unknown command 'frob' (run, node, " "$cap" frob
expect "help of an unknown command" 2 err "^capsule: unknown command 'frob'" "$cap" help frob
expect "unknown option" 2 err "^capsule ps: unknown option '--nod' (see capsule help ps)$" \
	"$cap" ps --nod x
expect "missing required option" 2 err "^capsule checkpoint: missing --output IMAGE" \
	"$cap" checkpoint --node "$tmp/a.sock" counter
expect "missing argument" 2 err "^capsule restore: missing IMAGE \[NAME\]" \
	"$cap" restore --node "$tmp/a.sock"
expect "option without its value" 2 err "^capsule ps: --node needs a value (SOCK)" \
	"$cap" ps --node
expect "flag given a value" 2 err "^capsule checkpoint: --force takes no value" \
	"$cap" checkpoint --node=x --force=yes -o y counter
expect "empty value" 2 err "^capsule ps: --node: the SOCK is empty" "$cap" ps --node=
expect "too many arguments" 2 err "^capsule keygen: unexpected argument 'b'" \
	"$cap" keygen a b
# --opt=value reaches the command: the socket is named in its error
expect "--opt=value" 2 err "^capsule ps: $tmp/none.sock: no node listening" \
	"$cap" ps --node="$tmp/none.sock"
capabs=$(cd "$(dirname "$cap")" && pwd)/capsule
(cd "$tmp" && "$capabs" keygen -- -k) >"$tmp/out" 2>&1 && [ -s "$tmp/-k" ] &&
	ok "-- ends the options" || bad "-- ends the options: $(cat "$tmp/out")"
expect "bad --timeout" 2 err "^capsule migrate: --timeout 0: not a number of seconds" \
	"$cap" migrate --node=x --to=127.0.0.1:1 --timeout=0 c
# --realtime: refused in one line without CAP_SYS_NICE; with it (if the
# host lets this process use real-time priority 11) the node runs
if command -v setpriv >/dev/null && [ "$(ulimit -r)" = 0 ]; then
	expect "--realtime without CAP_SYS_NICE" 2 err \
		"^capsule run: --realtime needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least 11)" \
		setpriv --inh-caps=-all --bounding-set=-sys_nice "$cap" run --realtime examples/demo.xml
fi
if chrt -r 11 true 2>/dev/null; then
	expect "run --realtime" 0 out "^\[init\] counter exited with 0" \
		"$cap" run --realtime --rom "$b/components" examples/demo.xml
fi

# make install PREFIX=: the program, its man page and completion
san=0 # the build directory's own flavour: nothing is rebuilt
nm "$b/libcapsule.a" 2>/dev/null | grep -q __asan_init && san=1
# after the build (make scenario's all), a second make has nothing to do:
# make demo rebuilds nothing the second time (components' objects kept)
if make -q --no-print-directory all B="$b" SAN=$san >/dev/null 2>&1; then
	ok "a second make rebuilds nothing"
else
	bad "make all would rebuild: $(make -n --no-print-directory all B="$b" SAN=$san 2>&1 | head -n 2)"
fi
make --no-print-directory install B="$b" SAN=$san PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	bad "make install: $(tail -n 3 "$tmp/install.log")"
p=$tmp/prefix
if [ -x "$p/bin/capsule" ] && [ -s "$p/share/man/man1/capsule.1" ] &&
   [ -s "$p/share/bash-completion/completions/capsule" ]; then
	ok "make install PREFIX= installs the program, capsule.1 and the completion"
else
	bad "make install: $(find "$p" -type f)"
fi
if command -v groff >/dev/null; then
	groff -man -Tutf8 -ww -z "$p/share/man/man1/capsule.1" >"$tmp/groff" 2>&1
	[ -s "$tmp/groff" ] && bad "the man page has warnings: $(head -n 3 "$tmp/groff")"
	groff -man -Tutf8 "$p/share/man/man1/capsule.1" 2>/dev/null | col -b >"$tmp/man.txt"
	for c in $cmds; do
		[ "$c" = help ] && continue
		grep -q "capsule $c" "$tmp/man.txt" || bad "the man page lacks $c"
	done
	grep -q "EXIT STATUS" "$tmp/man.txt" && ok "the man page renders and names every command" ||
		bad "the man page has no EXIT STATUS"
fi
if command -v bash >/dev/null; then
	# complete "capsule chec", "capsule checkpoint --n", a value of --rom
	mkdir -p "$tmp/dirs/roms"
	got=$(cd "$tmp/dirs" && PATH="$p/bin:$PATH" bash -c '
		. "$1"
		COMP_WORDS=(capsule chec); COMP_CWORD=1; _capsule; echo "${COMPREPLY[*]}"
		COMP_WORDS=(capsule checkpoint --f); COMP_CWORD=2; _capsule; echo "${COMPREPLY[*]}"
		COMP_WORDS=(capsule run --rom ro); COMP_CWORD=3; _capsule; echo "${COMPREPLY[*]}"
	' sh "$p/share/bash-completion/completions/capsule")
	want=$(printf 'checkpoint\n--force\nroms')
	[ "$got" = "$want" ] && ok "bash completion offers commands, options and values" ||
		bad "bash completion gave '$got'"
fi
exit $fail
