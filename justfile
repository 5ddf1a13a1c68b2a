# gray's everyday commands. `just` is optional: every recipe is a plain
# command you can copy. Install it with `npm install -g rust-just`.

# List the recipes.
default:
    @just --list

# Build everything, including the gray and grayd binaries.
build:
    go build ./...
    go build -o gray ./cmd/gray
    go build -o grayd ./cmd/grayd

# Run the test suite (the README's test command).
test:
    go test ./...

# The race detector over the packages that run goroutines (as CI runs it).
race:
    go test -race ./net/... ./core/rpc/... . ./dashboard/... ./sim ./simtest ./cmd/...

# Formatting, vet and the determinism linter.
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))"
    go vet ./...
    go run ./cmd/graylint ./...

# A simulation campaign, e.g. `just sim echo 1..1000 swarm`.
sim workload="echo" seeds="1..200" faults="swarm":
    go run ./cmd/gray sim run --workload {{workload}} --seeds {{seeds}} --faults {{faults}} --check-determinism

# Campaigns of every workload in the invariants build (each process's
# CheckInvariants after every event), e.g. `just invariants 1..1000`.
invariants seeds="1..100" faults="swarm":
    for w in $(go run ./cmd/gray sim list --names); do go run -tags invariants ./cmd/gray sim run --workload $w --seeds {{seeds}} --faults {{faults}} || exit 1; done

# Benchmarks: codec, simulator, GCS, cluster workload, plasma, scheduler,
# core-worker submission, transports and the embedded task round trip.
bench:
    go test -run '^$' -bench . -benchmem ./core ./core/proto ./core/worker ./sim ./sim/workload ./gcs ./plasma ./raylet ./net .

# Ray's microbenchmark suite next to the machine's limits and the
# simulator's speed (docs/performance.md); `just microbench --quick`.
microbench *flags:
    go run ./cmd/gray bench {{flags}}

# Fuzz the message decoder for a minute.
fuzz:
    go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./core

# What CI runs.
ci:
    bash .ci/run

# A loopback cluster of 20 grayd processes runs 100,000 small tasks and
# reports wall time, tasks/s and peak memory (docs/performance.md, "Scale").
scale-cluster nodes="20" tasks="100000":
    NODES={{nodes}} TASKS={{tasks}} scripts/scale-cluster.sh
