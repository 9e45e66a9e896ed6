# Sourced by the zdtm harnesses of groups (tests/zdtm/groups.sh,
# tests/migrate/group_migrate.sh).
#
# member_lines LOG...: the members' own lines, "[GROUP -> MEMBER] ...", in
# the order logged; with $order "member" (members that run side by
# side, whose lines interleave as they are scheduled), each member's
# lines in order, member after member, and a server's lines that name a
# client ('alpha -> ...') in order per client
member_lines() {
	if [ "$order" = member ]; then
		grep -h '^\[[^]]* -> [^]]*\] ' "$@" |
			awk '{ k = $3; if (match($0, /\047[^ ]* /)) k = k substr($0, RSTART, RLENGTH - 1)
			       print k " " NR " " $0 }' |
			sort -k1,1 -k2,2n | cut -d' ' -f3-
	else
		grep -h '^\[[^]]* -> [^]]*\] ' "$@"
	fi
}
