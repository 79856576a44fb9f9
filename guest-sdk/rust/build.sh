#!/bin/sh
# Builds the Rust SDK, its example and the conformance reference plugin
# with Debian's rustc and its wasm32 standard library, installing them
# when they are missing. Modules are written beside their sources, or under
# $1 when given (the layout below it mirrors guest-sdk/).
set -eu
cd "$(dirname "$0")"
out=${1:-..}
rustc=${RUSTC:-/usr/bin/rustc}
target=wasm32-unknown-unknown

install_debian() {
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if ! [ -x "$rustc" ] || ! [ -d /usr/lib/rustlib/$target/lib ]; then
	echo "installing Debian's rustc and libstd-rust-dev-wasm32"
	install_debian rustc libstd-rust-dev-wasm32
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
flags="--edition 2021 --target $target -C opt-level=s -C strip=symbols"
# rustc reserves a 1 MiB stack in linear memory by default, which every
# instance pays for when it starts. 128 KiB is plenty for these plugins.
cdylib_flags="-C link-arg=-zstack-size=131072"

echo "rustc --test src/lib.rs (native unit tests)"
"$rustc" --edition 2021 --test --crate-name megaflow -o "$build/sdk-tests" src/lib.rs
"$build/sdk-tests" --test-threads=1 -q

"$rustc" $flags --crate-type rlib --crate-name megaflow --out-dir "$build" src/lib.rs

cdylib() { # source, module
	mkdir -p "$(dirname "$2")"
	echo "rustc $1 -> $2"
	"$rustc" $flags $cdylib_flags --crate-type cdylib --extern megaflow="$build/libmegaflow.rlib" -o "$2" "$1"
}
cdylib examples/upper/upper.rs "$out/rust/examples/upper/upper.wasm"
cdylib ../conformance/reference/rust/reference.rs "$out/conformance/reference/rust/reference.wasm"
