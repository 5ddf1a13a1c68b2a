// Command graylint is gray's determinism linter. It runs the detlint
// analyzer (package internal/detlint), which keeps the sans-IO control-plane
// packages (core, core/worker, gcs, raylet, plasma, and any package whose doc
// comment carries //gray:sansio) free of goroutines, channels, locks,
// wall-clock reads, global randomness, host IO and unmarked map iteration.
//
// CI runs it over the whole module from the repository root:
//
//	go run ./cmd/graylint ./...
//
// It prints one line per violation and exits with a non-zero status if there
// is any, which fails the build. The -packages flag overrides the import path
// prefixes treated as sans-IO; run with -help for all flags.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/grayrt/gray/internal/detlint"
)

func main() { singlechecker.Main(detlint.Analyzer) }
