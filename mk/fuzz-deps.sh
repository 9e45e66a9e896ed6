#!/bin/sh
# Install what `make fuzz` and the fuzz check of `make test` need when it
# is missing: clang and its libFuzzer runtime (Debian 12: clang-14,
# libclang-rt-14-dev), through mk/deps.sh.
exec sh "$(dirname "$0")/deps.sh" clang-14 libclang-rt-14-dev
