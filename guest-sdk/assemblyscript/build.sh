#!/bin/sh
# Builds the AssemblyScript SDK's example and the conformance reference
# plugin with the assemblyscript compiler pinned in package-lock.json,
# installing Node.js from Debian and the compiler from npm when they are
# missing. Modules are written beside their sources, or under $1 when given
# (the layout below it mirrors guest-sdk/).
set -eu
cd "$(dirname "$0")"
out=${1:-..}

install_debian() {
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# Some Node.js builds bundle npm and conflict with Debian's npm package, so
# npm is installed only when it is still missing after nodejs.
# NOTE: assemblyscript 0.28 declares Node.js 20 or later, so npm warns on
# Debian 12's Node.js 18. It still built the same modules, byte for byte,
# in a Debian 12 chroot, but a later compiler may not.
if ! command -v node >/dev/null; then
	echo "installing Debian's nodejs"
	install_debian nodejs
fi
if ! command -v npm >/dev/null; then
	echo "installing Debian's npm"
	install_debian npm
fi
if ! [ -x node_modules/.bin/asc ]; then
	echo "installing assemblyscript from npm (npm ci)"
	npm ci --no-audit --no-fund
fi

module() { # source, module
	mkdir -p "$(dirname "$2")"
	echo "asc $1 -> $2"
	# --runtime stub: the SDK allocates nothing per call, so no collector is
	# needed. --use abort=: a failed check traps instead of importing
	# env.abort, which the host does not provide.
	node_modules/.bin/asc "$1" --runtime stub -O3 --noAssert \
		--exportStart _initialize --use abort= -o "$2"
}
module examples/upper/upper.ts "$out/assemblyscript/examples/upper/upper.wasm"
module ../conformance/reference/assemblyscript/reference.ts "$out/conformance/reference/assemblyscript/reference.wasm"
