# Sourced by the group tests (tests/cr/group_restore.sh,
# tests/cr/group_ended.sh, tests/migrate/group_migrate.sh).
#
# soak_group [BEFORE] [AFTER]: a node's init config with the group
# "grp": a monitor whose <config> holds the <start> nodes BEFORE, then
# soak_server and three soak_clients c1..c3 with their "Soak" session
# routed to it, then AFTER (a <test>, <restore/>).  Its quotas hold the
# members twice: a restore builds the new ones beside the old.
# all_ended LOG TENTHS [PID]: wait up to TENTHS tenths of a second for
# init's line that all its children (the group) have ended; 1 if it did
# not come, or if the node PID ended first
all_ended() {
	i=0
	until grep -q "all of init's children have ended" "$1"; do
		i=$((i + 1))
		[ $i -lt "$2" ] && { [ -z "$3" ] || kill -0 "$3" 2>/dev/null; } || return 1
		sleep 0.1
	done
}

soak_group() {
	route='<route> <service name="Soak"> <child name="server"/> </service> <any-service> <parent/> </any-service> </route>'
	cat <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="grp" caps="2000">
		<binary name="monitor"/>
		<resource name="RAM" quantum="48M"/>
		<config>
			$1
			<start name="server" caps="400"> <binary name="soak_server"/>
				<resource name="RAM" quantum="4M"/>
				<provides> <service name="Soak"/> </provides> </start>
$(for c in c1 c2 c3; do
		echo "			<start name=\"$c\" caps=\"100\"> <binary name=\"soak_client\"/> <resource name=\"RAM\" quantum=\"2M\"/> $route </start>"
	done)
			$2
		</config>
	</start>
</config>
CFG
}
