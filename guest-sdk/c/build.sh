#!/bin/sh
# Builds the C SDK's example and the conformance reference plugin as WASI
# reactors with Debian's clang 14, lld and wasi-libc, installing them when
# they are missing. Modules are written beside their sources, or under $1
# when given (the layout below it mirrors guest-sdk/).
set -eu
cd "$(dirname "$0")"
out=${1:-..}
cc=${CC_WASM:-clang-14}

install_debian() {
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if ! command -v "$cc" >/dev/null || ! command -v wasm-ld >/dev/null ||
	! [ -f /usr/lib/wasm32-wasi/crt1-reactor.o ] ||
	! [ -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a ]; then
	echo "installing Debian's clang-14, lld, wasi-libc and libclang-rt-14-dev-wasm32"
	install_debian clang-14 lld-14 lld wasi-libc libclang-rt-14-dev-wasm32
fi

reactor() { # module, sources...
	module=$1
	shift
	mkdir -p "$(dirname "$module")"
	echo "$cc $* -> $module"
	"$cc" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I. \
		-o "$module" megaflow.c "$@" -Wl,--strip-all
}
reactor "$out/c/examples/upper/upper.wasm" examples/upper/upper.c
reactor "$out/conformance/reference/c/reference.wasm" ../conformance/reference/c/reference.c
