package sim

// PathDeclarer is implemented by workloads that declare the "sometimes"
// paths (World.Sometimes names) they expect a campaign to reach, including
// the kernel's names that apply to them ("fault: crash", "fault:
// partition", "fault: one-way partition", "fault: clog", "fault: disk
// errors", "message duplicated", "process fail-stop"). A campaign reports
// each declared path with its count and lists those no run reached
// (Summary.Coverage, Summary.NotReached): a path never reached is a part of
// the system the campaign did not test, whatever its pass rate.
type PathDeclarer interface {
	// SometimesPaths returns the declared names; the campaign does not
	// keep or modify the slice.
	SometimesPaths() []string
}

// coverage builds Summary.Coverage and Summary.NotReached from the summed
// counters, for the paths the campaign's workload declares.
func (c Campaign) coverage(counters map[string]int64) (declared []Counter, notReached []string) {
	wl, err := NewWorkload(c.Workload, c.Options)
	if err != nil {
		return nil, nil // Validate built the same workload, so this does not happen
	}
	d, ok := wl.(PathDeclarer)
	if !ok {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, name := range d.SometimesPaths() {
		if seen[name] {
			continue
		}
		seen[name] = true
		n := counters[name]
		declared = append(declared, Counter{Name: name, Count: n})
		if n == 0 {
			notReached = append(notReached, name)
		}
	}
	return declared, notReached
}
