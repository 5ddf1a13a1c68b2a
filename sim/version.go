package sim

import "runtime/debug"

// CodeVersion names the code a binary was built from, for reports: a run
// repeats only on the same (seed, configuration, code version). It is the
// VCS revision stamped by `go build` (with "-dirty" for a modified work
// tree), else the main module's version (often "(devel)", e.g. with
// -buildvcs=false or `go run`), else "unknown".
func CodeVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return codeVersion(bi)
}

func codeVersion(bi *debug.BuildInfo) string {
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev != "" && dirty:
		return rev + "-dirty"
	case rev != "":
		return rev
	case bi.Main.Version != "":
		return bi.Main.Version
	}
	return "unknown"
}
