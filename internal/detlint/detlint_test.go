package detlint_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/grayrt/gray/internal/detlint"
)

// TestAnalyzer checks the rules against the fixtures in testdata/src, whose
// import paths mirror the real ones: gcs and core (and core/worker) are
// sans-IO by default, fsm by its //gray:sansio directive, and sim is not.
func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), detlint.Analyzer,
		"github.com/grayrt/gray/gcs",
		"github.com/grayrt/gray/core/...",
		"github.com/grayrt/gray/fsm",
		"github.com/grayrt/gray/sim",
	)
}

// TestPackagesFlag checks that -packages adds the packages it names.
func TestPackagesFlag(t *testing.T) {
	setFlag(t, "packages", detlint.DefaultPackages+",github.com/grayrt/gray/extra")
	analysistest.Run(t, analysistest.TestData(), detlint.Analyzer, "github.com/grayrt/gray/extra")
}

// setFlag sets an analyzer flag for the duration of the test. The analyzer
// is global, so tests that use it must not run in parallel.
func setFlag(t *testing.T, name, value string) {
	t.Helper()
	f := detlint.Analyzer.Flags.Lookup(name)
	if f == nil {
		t.Fatalf("analyzer has no -%s flag", name)
	}
	old := f.Value.String()
	if err := f.Value.Set(value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}
