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

# Rewrite the golden vectors (tests/vectors/) after a deliberate change; review the diff.
gen:
    PBR_BLESS=1 cargo test --workspace --locked -- vectors
    git diff --stat tests/vectors

# Benchmarks with their raw machine limits, measured in the same run (not in CI).
bench:
    cargo run --release -p pbr-bench -- all

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings
