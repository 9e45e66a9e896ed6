# Sourced by the checkpoint/restore shell tests: print a node config with
# one monitor named $1 whose <config> holds $2 (a <target>, <test> or
# <restore> element); $3 its RAM quantum (default 16M), $4 its caps
# (default 500).
monitor_node() {
	cat <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="$1" caps="${4:-500}">
		<binary name="monitor"/>
		<resource name="RAM" quantum="${3:-16M}"/>
		<config>$2</config>
	</start>
</config>
CFG
}
