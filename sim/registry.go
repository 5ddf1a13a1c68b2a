package sim

import (
	"fmt"
	"slices"
	"strings"
)

// Options size a workload. Zero fields take the workload's defaults.
type Options struct {
	Nodes   int    // raylets or servers, where the workload has several
	Clients int    // concurrent clients
	Tasks   int    // tasks in all, where the workload runs a set number (scale)
	Actors  int    // actors in all, where the workload runs a set number (scale)
	Variant string // a test-only buggy variant the checks must catch ("" = correct)
}

// Factory builds a fresh workload for one run.
type Factory func(opts Options) (Workload, error)

type registered struct {
	name, doc string
	variants  []string
	factory   Factory
}

// workloads is written only from package init functions.
var workloads = map[string]registered{}

// RegisterWorkload makes a workload available by name to campaigns and the
// CLI. variants lists the names of its test-only buggy variants. It panics
// on a duplicate name (a programmer error caught at init).
func RegisterWorkload(name, doc string, variants []string, f Factory) {
	if _, dup := workloads[name]; dup {
		panic("sim: workload registered twice: " + name)
	}
	workloads[name] = registered{name, doc, variants, f}
}

// WorkloadNames returns the registered workload names, sorted.
func WorkloadNames() []string {
	names := make([]string, 0, len(workloads))
	for n := range workloads { //gray:unordered sorted right after the loop
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WorkloadDoc returns the one-line description and variants of a workload.
func WorkloadDoc(name string) (doc string, variants []string) {
	r := workloads[name]
	return r.doc, r.variants
}

// NewWorkload builds the named workload. Unknown names and variants get an
// error listing what exists.
func NewWorkload(name string, opts Options) (Workload, error) {
	r, ok := workloads[name]
	if !ok {
		return nil, fmt.Errorf("sim: unknown workload %q (known: %s)", name, strings.Join(WorkloadNames(), ", "))
	}
	if opts.Variant != "" && !slices.Contains(r.variants, opts.Variant) {
		return nil, fmt.Errorf("sim: workload %s has no variant %q (known: %s)", name, opts.Variant, strings.Join(r.variants, ", "))
	}
	return r.factory(opts)
}

// ReplayArgs returns the CLI flags that reproduce opts.
func (o Options) ReplayArgs() []string {
	var a []string
	if o.Nodes != 0 {
		a = append(a, "--nodes", fmt.Sprint(o.Nodes))
	}
	if o.Clients != 0 {
		a = append(a, "--clients", fmt.Sprint(o.Clients))
	}
	if o.Tasks != 0 {
		a = append(a, "--tasks", fmt.Sprint(o.Tasks))
	}
	if o.Actors != 0 {
		a = append(a, "--actors", fmt.Sprint(o.Actors))
	}
	if o.Variant != "" {
		a = append(a, "--variant", o.Variant)
	}
	return a
}
