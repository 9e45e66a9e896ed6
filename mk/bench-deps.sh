#!/bin/sh
# Install what `make bench` needs besides the build's packages, when it is
# missing, through mk/deps.sh: QEMU (qemu-system-x86), the peer that
# bench_migrate compares capsule's migration with (TCG, two QEMU processes
# on 127.0.0.1), and iproute2 for the shaped-link variant.  Only the
# benchmark's set-up installs it; make test never needs it.
exec sh "$(dirname "$0")/deps.sh" qemu-system-x86 iproute2
