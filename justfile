# pbr developer commands. CI does not need just: it runs .ci/run.

default:
    @just --list

# Build, verify and show the demo ledger.
demo:
    cargo run --release --bin pbr -- demo

# The README's test command.
test:
    cargo test --workspace --locked

# Everything CI runs.
ci:
    bash .ci/run

# Rewrite the generated files (tests/vectors/, schemas/) after a deliberate change; review
# the diff before committing.
gen:
    PBR_BLESS=1 cargo test --workspace --locked
    git diff --stat tests/vectors schemas

# Benchmarks with their raw machine limits, measured in the same run (not in CI).
bench:
    cargo run --release -p pbr-bench -- all
    cargo build --release -p pbr-cli
    cargo run --release -p pbr-bench -- import
    cargo run --release -p pbr-bench -- settle

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Put pbr on the PATH (~/.cargo/bin), with bash completions and manual pages for this user.
install:
    cargo install --locked --path crates/pbr-cli
    mkdir -p ~/.local/share/bash-completion/completions ~/.local/share/man/man1
    pbr completions bash > ~/.local/share/bash-completion/completions/pbr
    pbr man --out ~/.local/share/man/man1
