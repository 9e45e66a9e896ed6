# Sourced by the checkpoint/restore shell tests: print a node config with
# one monitor named $1 whose <config> holds $2 (a <target>, <test> or
# <restore> element).
monitor_node() {
	cat <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="$1" caps="500">
		<binary name="monitor"/>
		<resource name="RAM" quantum="16M"/>
		<config>$2</config>
	</start>
</config>
CFG
}
