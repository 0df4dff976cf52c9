# CPx Connect. `make demo` runs the whole login experience; `make test` runs every test.
# Both install what is missing first (Debian/Ubuntu packages; without Rust, Debian 12's own
# toolchain, elsewhere rustup: see scripts/setup.sh).

.PHONY: setup demo test build bench fixtures clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

build: setup
	cargo build --workspace --all-targets --locked

bench: setup
	bash scripts/bench.sh

# Regenerates the test PKI of the virtual card (keys and certificates are committed).
fixtures:
	bash tests/virtual-card/fixtures/generate.sh

clean:
	cargo clean
	rm -rf extension/dist tests/browser/node_modules tests/browser/artifacts
