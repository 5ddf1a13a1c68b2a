package sim

import (
	"io"
	"math"
	"math/rand/v2"
	"path"
	"slices"

	"fmt"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/walfmt"
	"strings"
	"time"
)

// The nemesis injects the process-level and topology faults of the mix —
// partitions, clogs, crashes, disk errors, pauses — as a Poisson process during the
// fault phase. Each fault heals itself after a random duration, and all are
// healed at the end of the fault phase.

func (w *World) scheduleNemesis() {
	f := &w.faults
	total := f.Partition + f.Clog + f.Crash + f.DiskError + f.Pause + f.Corrupt + f.ClockJump
	// Disk losses only where a disk may be lost: counting them elsewhere
	// would change the other faults of every seed that drew them.
	for _, p := range w.procs {
		if p.opts.LosableDisk {
			total += f.DiskLoss
			break
		}
	}
	if total <= 0 {
		return
	}
	var next func()
	schedule := func() {
		gap := int64(w.nemRand.ExpFloat64() / total * float64(time.Second))
		at := w.now + gap + 1
		if at >= int64(w.cfg.FaultPhase) {
			return
		}
		w.push(event{at: at, kind: evAction, label: "nemesis", action: next})
	}
	next = func() {
		if w.healed {
			return
		}
		x := w.nemRand.Float64() * total
		switch {
		case x < f.Partition:
			w.partition()
		case x < f.Partition+f.Clog:
			w.clog()
		case x < f.Partition+f.Clog+f.Crash:
			w.crashSome()
		case x < f.Partition+f.Clog+f.Crash+f.DiskError:
			w.diskFault()
		case x < f.Partition+f.Clog+f.Crash+f.DiskError+f.Pause:
			w.pauseSome()
		case x < f.Partition+f.Clog+f.Crash+f.DiskError+f.Pause+f.Corrupt:
			w.corruptSome()
		case x < f.Partition+f.Clog+f.Crash+f.DiskError+f.Pause+f.Corrupt+f.ClockJump:
			w.jumpClock()
		default:
			w.loseDisk()
		}
		schedule()
	}
	schedule()
}

func (w *World) randomDuration(lo, hi time.Duration) int64 {
	return int64(lo) + w.nemRand.Int64N(int64(hi-lo))
}

// partition cuts the links between a random side and the rest, both ways
// (symmetric) or one way (asymmetric), for a random time.
func (w *World) partition() {
	n := len(w.procs)
	if n < 2 {
		return
	}
	// Sides are drawn per host, in order of first appearance, so that a
	// host's processes always stay together.
	side := make([]bool, n)
	inside := 0
	for inside == 0 || inside == n {
		inside = 0
		drawn := map[string]bool{}
		for i, p := range w.procs {
			k := hostKey(p)
			in, ok := drawn[k]
			if !ok {
				in = w.nemRand.IntN(2) == 0
				drawn[k] = in
			}
			side[i] = in
			if in {
				inside++
			}
		}
	}
	oneWay := w.nemRand.IntN(3) == 0
	var names []string
	for i, in := range side {
		if in {
			names = append(names, string(w.procs[i].addr))
		}
	}
	cut := &netCut{side: side, oneWay: oneWay}
	w.net.addCut(cut)
	healAt := w.now + w.randomDuration(200*time.Millisecond, 5*time.Second)
	for _, p := range w.procs {
		w.disturb(p, healAt)
	}
	kind := "partition"
	if oneWay {
		kind = "one-way partition"
	}
	w.Sometimes("fault: " + kind)
	label := fmt.Sprintf("%s {%s} | rest", kind, strings.Join(names, " "))
	w.tracef(nil, "fault", "%s", label)
	if w.obs != nil {
		w.observe(nil, "fault", "", 0, kind, label)
	}
	w.push(event{at: healAt, kind: evAction, label: "heal " + label, action: func() {
		w.net.healCut(cut)
		if w.obs != nil {
			w.observe(nil, "heal", "", 0, kind, label)
		}
	}})
}

// clog holds back delivery on all links of one process, or on one link.
func (w *World) clog() {
	n := len(w.procs)
	if n < 2 {
		return
	}
	until := w.now + w.randomDuration(100*time.Millisecond, 3*time.Second)
	a := w.nemRand.IntN(n)
	if w.nemRand.IntN(2) == 0 {
		w.net.clogProc(a, n, until)
		for j := range n {
			w.disturb(w.procs[j], until)
		}
		w.tracef(nil, "fault", "clog %s until %v", w.procs[a].addr, time.Duration(until))
		if w.obs != nil {
			w.observe(nil, "fault", "", 0, "clog", fmt.Sprintf("%s until %v", w.procs[a].addr, time.Duration(until)))
		}
	} else {
		b := (a + 1 + w.nemRand.IntN(n-1)) % n
		w.net.clogLink(a, b, until)
		w.disturb(w.procs[a], until)
		w.disturb(w.procs[b], until)
		w.tracef(nil, "fault", "clog %s->%s until %v", w.procs[a].addr, w.procs[b].addr, time.Duration(until))
		if w.obs != nil {
			w.observe(nil, "fault", "", 0, "clog", fmt.Sprintf("%s->%s until %v", w.procs[a].addr, w.procs[b].addr, time.Duration(until)))
		}
	}
	w.Sometimes("fault: clog")
}

// crashSome crashes a random live crashable process and restarts it later.
func (w *World) crashSome() {
	var candidates []*proc
	for _, p := range w.procs {
		if p.opts.Crashable && p.alive {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := candidates[w.nemRand.IntN(len(candidates))]
	w.Sometimes("fault: crash")
	if p.opts.Host != "" && w.nemRand.IntN(2) == 0 {
		// A node failure: every crashable process of the host goes down.
		w.Sometimes("fault: host crash")
		for _, q := range candidates {
			if q.opts.Host == p.opts.Host {
				w.crash(q, "nemesis: host "+q.opts.Host+" crashed")
				w.scheduleRestart(q)
			}
		}
		return
	}
	w.crash(p, "nemesis")
	w.scheduleRestart(p)
}

// diskFault fails the WAL writes of a random process with a disk for a while.
func (w *World) diskFault() {
	var candidates []*proc
	for _, p := range w.procs {
		if p.opts.Disk && p.alive {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := candidates[w.nemRand.IntN(len(candidates))]
	p.disk.set(true)
	end := w.now + w.randomDuration(20*time.Millisecond, time.Second)
	w.disturb(p, end)
	w.Sometimes("fault: disk errors")
	w.tracef(p, "fault", "disk: WAL writes fail")
	if w.obs != nil {
		w.observe(p, "fault", "", 0, "disk", "WAL writes fail")
	}
	w.push(event{at: end, kind: evAction, label: "disk ok " + string(p.addr), action: func() {
		p.disk.set(false)
		if w.obs != nil {
			w.observe(p, "heal", "", 0, "disk", "WAL writes work again")
		}
	}})
}

// pauseSome pauses a random live process: until the pause ends, the
// events due to it (deliveries, timers, its coroutines) wait, and then
// run in the order they became due (dispatch re-queues them). Half of the
// pauses are short (up to a second), half long, up to the mix's
// PauseMax, which outlasts the failure detectors' timeouts.
func (w *World) pauseSome() {
	var candidates []*proc
	for _, p := range w.procs {
		if p.alive && p.pausedUntil <= w.now {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := candidates[w.nemRand.IntN(len(candidates))]
	hi := w.faults.pauseMax()
	d := w.randomDuration(time.Millisecond, min(time.Second, hi)+1)
	if w.nemRand.IntN(2) == 0 && hi > time.Second {
		d = w.randomDuration(time.Second, hi+1)
	}
	w.Pause(p.addr, time.Duration(d))
}

// Pause pauses the process at addr for d, as the pause fault does: it
// handles nothing until then, its clock keeps running, and what was due
// during the pause runs when it ends, in the order it became due. Tests
// and workloads use it to script pauses; it is a no-op for a process that
// is down, and it never shortens a pause under way.
func (w *World) Pause(addr core.Addr, d time.Duration) {
	p := w.byAddr[addr]
	if p == nil || !p.alive || d <= 0 {
		return
	}
	until := w.now + int64(d)
	if until <= p.pausedUntil {
		return
	}
	p.pausedUntil = until
	p.pausedInc = p.inc
	w.disturb(p, until)
	w.Sometimes("fault: pause")
	if d > time.Second {
		w.Sometimes("fault: long pause")
	}
	label := fmt.Sprintf("pause %s for %v", p.addr, d)
	w.tracef(p, "fault", "%s", label)
	if w.obs != nil {
		w.observe(p, "fault", "", 0, "pause", label)
	}
}

// disturb records that a fault touched p until the virtual time until
// (see Disturbed).
func (w *World) disturb(p *proc, until int64) {
	p.disturbedUntil = max(p.disturbedUntil, until)
}

// Disturbed reports whether a fault may have kept the process at addr
// from talking to its peers at any moment from since until now: it
// crashed or restarted, was paused, was on either side of a partition,
// behind a clog, or messages could be lost or held back for long
// (drops or tail latency in the mix). A failure detector that suspects
// a process that was not disturbed suspected it wrongly; checks use this
// to tell a detector's false suspicion from a true one.
func (w *World) Disturbed(addr core.Addr, since time.Duration) bool {
	p := w.byAddr[addr]
	if p == nil {
		return true
	}
	if w.faults.Drop > 0 || w.faults.TailProb > 0 {
		return true
	}
	return p.disturbedUntil > int64(since) || !p.alive
}

// corruptSome damages the disk of a random live process with a disk at
// rest: the process stops cleanly (as an operator restarts it: its
// components close their storage), a copy of its disk is kept as the
// operator's backup, one file is damaged, and the process starts again
// later on the damaged disk. If it refuses the disk (a fail-stop wrapping
// core.ErrUnrecoverable), the operator restores the backup (guard); if it
// starts, the workload's checks decide whether it kept everything it
// acknowledged.
func (w *World) corruptSome() {
	var candidates []*proc
	for _, p := range w.procs {
		if p.opts.Disk && p.opts.Crashable && p.alive && p.restore == nil && p.served == nil {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := candidates[w.nemRand.IntN(len(candidates))]
	w.stopCleanly(p, "nemesis: stopped for a disk corruption at rest")
	backup := p.fs.CrashClone(vfs.CrashCloneCfg{})
	label, err := damageFile(p.fs, w.nemRand)
	if err != nil {
		w.Fail("setup", fmt.Sprintf("corrupting the disk of %s: %v", p.addr, err))
		return
	}
	if label == "" {
		w.scheduleRestart(p) // nothing on the disk to damage
		return
	}
	p.restore, p.served = backup, nil
	w.Sometimes("fault: disk corruption")
	w.tracef(p, "fault", "disk corruption at rest: %s", label)
	if w.obs != nil {
		w.observe(p, "fault", "", 0, "corrupt", label)
	}
	w.scheduleRestart(p)
}

// DiskLossGuard is implemented by workloads whose processes may lose
// their disks (ProcOptions.LosableDisk): DiskLossAllowed reports whether
// the disk of the process at addr may be lost now (say, only while the
// other replicas hold everything it holds).
type DiskLossGuard interface {
	DiskLossAllowed(addr core.Addr) bool
}

// loseDisk crashes a random live process whose disk may be lost and
// restarts it later on an empty disk.
func (w *World) loseDisk() {
	guard, _ := w.wl.(DiskLossGuard)
	var candidates []*proc
	for _, p := range w.procs {
		if p.opts.LosableDisk && p.alive && p.restore == nil && p.served == nil && (guard == nil || guard.DiskLossAllowed(p.addr)) {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	w.loseDiskOf(candidates[w.nemRand.IntN(len(candidates))])
}

// LoseDisk crashes the process at addr, as the disk_loss fault does, and
// restarts it later on an empty disk. Tests use it to script the loss of
// a disk; it is a no-op for a process that is down.
func (w *World) LoseDisk(addr core.Addr) {
	if p := w.byAddr[addr]; p != nil && p.alive {
		w.loseDiskOf(p)
	}
}

func (w *World) loseDiskOf(p *proc) {
	w.crash(p, "nemesis: disk lost")
	p.fs, p.served, p.restore = vfs.NewCrashableMem(), nil, nil
	w.Sometimes("fault: disk loss")
	w.tracef(p, "fault", "disk lost: the process restarts on an empty disk")
	if w.obs != nil {
		w.observe(p, "fault", "", 0, "disk_loss", "")
	}
	w.scheduleRestart(p)
}

// stopCleanly stops p as a clean shutdown does: its components close
// their storage (Stopper.Stop) on the live disk, then the disk keeps what
// is synced, which after a clean close is everything.
func (w *World) stopCleanly(p *proc, why string) {
	p.alive = false
	p.lastWhy = why
	p.disturbedUntil = math.MaxInt64 // until it starts again
	w.tracef(p, "stop", "%s", why)
	if w.obs != nil {
		w.observe(p, "crash", "", 0, "", why)
	}
	p.disk.set(false)
	w.stopProc(p)
	w.unwind(p)
	p.fs = p.fs.CrashClone(vfs.CrashCloneCfg{})
	p.p = nil
	for _, q := range w.procs {
		if q.opts.Parent == p.addr && q.alive {
			w.crash(q, fmt.Sprintf("its parent %s stopped", p.addr))
			w.scheduleRestart(q)
		}
	}
}

// damageFile damages one file of fs, drawn from r: a few bytes flipped,
// the file truncated, or the file removed; every change is synced. It
// returns what it did, or "" when fs holds no file it may damage.
//
// Only files whose content the seed decides are candidates: what the
// process wrote on its own goroutine. Pebble's background goroutines
// write sstables and manifests, and recycle old logs, at moments the Go
// runtime chooses, so those files differ between two runs of one seed;
// damaging them would make runs irreproducible. So the candidates are the
// newest write-ahead log of a directory, damaged only within its live
// records (internal/walfmt: a recycled file's leftovers differ between
// runs), the newest OPTIONS file, and files outside pebble's naming (a
// component's own, such as the GCS's witness).
func damageFile(fs *vfs.MemFS, r *rand.Rand) (string, error) {
	type target struct {
		name string
		live int // bytes that may be damaged; -1 for the whole file
	}
	var targets []target
	var walk func(dir string) error
	walk = func(dir string) error {
		names, err := fs.List(dir)
		if err != nil {
			return err
		}
		slices.Sort(names)
		var newestLog, newestOptions string
		var newestNum uint32
		for _, n := range names {
			p := path.Join(dir, n)
			st, err := fs.Stat(p)
			if err != nil {
				return err
			}
			switch {
			case st.IsDir():
				if err := walk(p); err != nil {
					return err
				}
			case strings.HasSuffix(n, ".log"):
				if num, ok := walfmt.LogNum(n); ok && (newestLog == "" || num > newestNum) {
					newestLog, newestNum = n, num
				}
			case strings.HasPrefix(n, "OPTIONS-"):
				newestOptions = n // names sort by number
			case strings.HasSuffix(n, ".sst"), strings.HasSuffix(n, ".blob"), strings.HasPrefix(n, "MANIFEST-"),
				strings.HasPrefix(n, "marker.manifest."), n == "LOCK", strings.HasSuffix(n, ".tmp"):
				// written by pebble's goroutines, or holding nothing
			default:
				targets = append(targets, target{p, -1})
			}
		}
		if newestOptions != "" {
			targets = append(targets, target{path.Join(dir, newestOptions), -1})
		}
		if newestLog != "" {
			data, err := readAll(fs, path.Join(dir, newestLog))
			if err != nil {
				return err
			}
			targets = append(targets, target{path.Join(dir, newestLog), walfmt.LiveLength(data, newestNum)})
		}
		return nil
	}
	if err := walk(""); err != nil {
		return "", err
	}
	slices.SortFunc(targets, func(a, b target) int { return strings.Compare(a.name, b.name) })
	if len(targets) == 0 {
		return "", nil
	}
	t := targets[r.IntN(len(targets))]
	data, err := readAll(fs, t.name)
	if err != nil {
		return "", err
	}
	live := len(data)
	if t.live >= 0 {
		live = t.live
	}
	mode := r.IntN(3)
	if live == 0 {
		mode = 2 // nothing to flip or cut
	}
	var label string
	switch mode {
	case 0:
		at, n := r.IntN(live), 1+r.IntN(8)
		for i := at; i < at+n && i < live; i++ {
			data[i] ^= byte(1 + r.IntN(255))
		}
		label = fmt.Sprintf("flipped %d bytes at offset %d of %s (%d live bytes)", min(n, live-at), at, t.name, live)
	case 1:
		n := r.IntN(live)
		label = fmt.Sprintf("truncated %s from %d live bytes to %d", t.name, live, n)
		data = data[:n]
	default:
		if err := fs.Remove(t.name); err != nil {
			return "", err
		}
		return "removed " + t.name, syncDir(fs, path.Dir(t.name))
	}
	f, err := fs.Create(t.name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return "", err
	}
	return label, f.Close()
}

func readAll(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func syncDir(fs vfs.FS, dir string) error {
	if dir == "." {
		dir = ""
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// jumpClock steps the clock of a random live process forward or back by
// 0.1–5 s, as NTP steps a clock that is too far off. Timers keep their
// durations (as Go's monotonic timers do on hosts); what the process reads
// from Now moves, and with it every duration it computes from two
// readings across the step.
func (w *World) jumpClock() {
	var candidates []*proc
	for _, p := range w.procs {
		if p.alive {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return
	}
	p := candidates[w.nemRand.IntN(len(candidates))]
	d := time.Duration(w.randomDuration(100*time.Millisecond, 5*time.Second))
	if w.nemRand.IntN(2) == 0 {
		d = -d
	}
	p.offset += d
	w.Sometimes("fault: clock jump")
	label := fmt.Sprintf("clock of %s jumps %+v", p.addr, d)
	w.tracef(p, "fault", "%s", label)
	if w.obs != nil {
		w.observe(p, "fault", "", 0, "clock", label)
	}
}
