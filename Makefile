# CPx Connect. `make demo` runs the whole login experience; `make test` runs every test.
# Both install what is missing first, each only what it needs (Debian/Ubuntu packages; without
# Rust, Debian 12's own toolchain, elsewhere rustup: see scripts/setup.sh). `make setup` installs
# everything, as `make test` does.

.PHONY: setup setup-demo demo test build bench fixtures clean

setup:
	bash scripts/setup.sh test

setup-demo:
	bash scripts/setup.sh demo

demo: setup-demo
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

build: setup-demo
	cargo build --workspace --all-targets --locked

bench: setup
	bash scripts/bench.sh

# Regenerates the test PKI of the virtual card (keys and certificates are committed).
fixtures:
	bash tests/virtual-card/fixtures/generate.sh

clean:
	cargo clean
	rm -rf extension/dist tests/browser/node_modules tests/browser/artifacts
