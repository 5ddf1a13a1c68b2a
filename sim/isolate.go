package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Isolation makes a campaign run its seeds in child processes, seed
// workers, instead of in its own. A seed that brings its process down —
// a panic on a goroutine of its own (outside the World's guard), a Go
// runtime fatal error (which no recover catches), os.Exit, a deadlock, a
// hang, runaway memory — then fails alone, with kind "crash", and the
// campaign goes on with a new worker.
//
// Each worker runs one seed at a time; the campaign keeps up to Parallel
// of them and reuses a worker for seed after seed as long as it lives.
// Results are those of an in-process campaign (only Wall differs): the
// worker runs the same code on the same Config.
type Isolation struct {
	// Command starts a seed worker: Command[0] is the program, the rest
	// its arguments. The program must call ServeSeeds on its stdin and
	// stdout (see ServeSeedsIfWorker and SelfIsolation) and have the
	// campaign's workload registered.
	Command []string
	// Env is added to a worker's environment, which otherwise is this
	// process's.
	Env []string
	// SeedWallMax bounds the wall-clock time of one seed (both runs with
	// CheckDeterminism): a worker that has not answered by then is killed
	// and the seed fails as "crash". 0 means DefaultSeedWallMax.
	SeedWallMax time.Duration
	// MemoryBytesMax bounds a worker's resident memory: above it the
	// worker is killed and its seed fails as "crash". 0 means no bound.
	//
	// The bound is enforced from this process, which reads the worker's
	// resident set size (VmRSS in /proc/PID/status) every 100 ms, rather
	// than inside the worker (debug.SetMemoryLimit and a look at
	// runtime/metrics after each seed): that catches a runaway seed while
	// it runs, not after, whatever the worker is doing (a tight loop, a
	// wedged runtime), and it counts every byte the operating system may
	// kill for, not only the Go heap. The worker also gets GOMEMLIMIT at
	// the bound, a soft limit that makes its garbage collector work harder
	// before the hard bound kills it. Where /proc is missing (macOS,
	// Windows) only that soft limit applies.
	MemoryBytesMax int64
}

// KindCrash is the failure kind of a seed whose worker process died, hung
// or outgrew its memory bound (Isolation).
const KindCrash = "crash"

// DefaultSeedWallMax is Isolation.SeedWallMax's default: far above any
// seed of the built-in workloads (seconds), so that it only catches hangs.
const DefaultSeedWallMax = 5 * time.Minute

// Bounds of the parent's side of the worker protocol.
const (
	// workerStartWallMax bounds how long a new worker may take to greet.
	workerStartWallMax = time.Minute
	// workerStopWallMax bounds how long a worker whose stdin was closed
	// may take to exit before it is killed.
	workerStopWallMax = 10 * time.Second
	// memoryCheckInterval is how often a worker's memory is looked at.
	memoryCheckInterval = 100 * time.Millisecond
	// replyBytesMax bounds one line of a worker (a result with its
	// attachments, such as porcupine visualizations of a few MiB).
	replyBytesMax = 1 << 30
	// outputHeadBytesMax and outputTailBytesMax bound what is kept of
	// what a worker writes to stderr during one seed: the beginning
	// (where a crash's first lines are) and the end.
	outputHeadBytesMax = 64 << 10
	outputTailBytesMax = 16 << 10
	// excerptLinesMax bounds the lines of a worker's output quoted in a
	// crash's reason: the panic or fatal error line and the first frames
	// (as many as a "panic" failure's stack shows).
	excerptLinesMax = 40
)

func (iso Isolation) validate() error {
	if len(iso.Command) == 0 || iso.Command[0] == "" {
		return errors.New("sim: isolation without a command to start seed workers")
	}
	if iso.SeedWallMax < 0 {
		return fmt.Errorf("sim: seed wall-clock bound %v is negative", iso.SeedWallMax)
	}
	if iso.MemoryBytesMax < 0 {
		return fmt.Errorf("sim: seed memory bound %d is negative", iso.MemoryBytesMax)
	}
	return nil
}

func (iso Isolation) seedWallMax() time.Duration {
	if iso.SeedWallMax == 0 {
		return DefaultSeedWallMax
	}
	return iso.SeedWallMax
}

// workerPool holds the idle workers of a campaign. Campaign.Run runs at
// most Parallel seeds at once, so at most that many workers live.
type workerPool struct {
	iso  Isolation
	idle chan *worker
}

// newWorkerPool starts one worker, so that a command that cannot serve
// seeds is an error of the campaign rather than a crash of every seed.
func newWorkerPool(iso Isolation, parallel int) (*workerPool, error) {
	p := &workerPool{iso: iso, idle: make(chan *worker, parallel)}
	w, err := startWorker(iso)
	if err != nil {
		return nil, err
	}
	p.idle <- w
	return p, nil
}

func (p *workerPool) get() (*worker, error) {
	select {
	case w := <-p.idle:
		return w, nil
	default:
		return startWorker(p.iso)
	}
}

func (p *workerPool) put(w *worker) {
	select {
	case p.idle <- w:
	default:
		w.stop() // cannot happen while Run bounds the seeds in flight
	}
}

// close stops the idle workers; call it once no seed runs.
func (p *workerPool) close() {
	for {
		select {
		case w := <-p.idle:
			w.stop()
		default:
			return
		}
	}
}

// runSeed runs one seed of c on a worker. A worker that dies or is killed
// is dropped and its seed fails as "crash"; a worker found dead before it
// took the request (it died after its previous seed) is replaced once
// without blaming the seed.
func (p *workerPool) runSeed(c Campaign, seed uint64) Result {
	start := time.Now()
	q := seedRequest{Workload: c.Workload, Options: c.Options, FaultSpec: c.FaultSpec, FaultPhase: c.FaultPhase, Seed: seed, CheckDeterminism: c.CheckDeterminism}
	for attempt := 0; ; attempt++ {
		w, err := p.get()
		if err != nil {
			return c.crashResult(seed, time.Since(start), fmt.Sprintf("could not start a seed worker: %v", err))
		}
		rep, crash, delivered := w.run(q, p.iso)
		switch {
		case rep != nil:
			p.put(w)
			r := *rep.Result
			r.Attachments = rep.Attachments
			if c.Replay != nil { // a function cannot cross to the worker
				r.Replay = c.Replay(seed, r.FaultSpec)
			}
			return r
		case !delivered && attempt == 0:
			w.stop()
			continue
		}
		return c.crashResult(seed, time.Since(start), crash+"\n"+w.out.excerpt())
	}
}

// crashResult is the Result of a seed whose worker died or was killed:
// kind "crash", with the seed's fault mix and replay command (which runs
// the seed in-process, so it crashes the same way, with the whole stack).
func (c Campaign) crashResult(seed uint64, wall time.Duration, reason string) Result {
	cfg := c.SeedConfig(seed)
	r := Result{Workload: c.Workload, Seed: seed, FaultSpec: cfg.FaultSpec, ReplayArgs: cfg.ReplayArgs, Replay: cfg.Replay, Kind: KindCrash, Reason: reason, Wall: wall}
	if f, err := ResolveFaults(cfg.FaultSpec, seed); err == nil {
		r.Faults = f.String()
	}
	return r
}

// worker is one seed worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// lines carries the worker's replies from the goroutine that reads its
	// stdout; it is closed once the worker exited, after waitErr is set.
	lines   chan workerLine
	waitErr error
	// out keeps what the worker wrote to stderr, and to stdout outside the
	// protocol, since its current seed began.
	out *outputTail
}

type workerLine struct {
	rep workerReply
	err error
}

// startWorker starts a worker and waits for its greeting.
func startWorker(iso Isolation) (*worker, error) {
	cmd := exec.Command(iso.Command[0], iso.Command[1:]...)
	cmd.Env = append(os.Environ(), iso.Env...)
	if iso.MemoryBytesMax > 0 {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+strconv.FormatInt(iso.MemoryBytesMax, 10))
	}
	w := &worker{cmd: cmd, lines: make(chan workerLine, 4), out: &outputTail{}}
	cmd.Stderr = w.out
	// A worker that exited but left its stderr open to a process of its
	// own must not keep Wait, and so the campaign, waiting.
	cmd.WaitDelay = workerStopWallMax
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sim: starting seed worker %q: %w", iso.Command[0], err)
	}
	w.stdin = stdin
	// The reader ends when the worker's stdout does, that is when the
	// worker exits (or is killed); every path that drops a worker stops or
	// kills it.
	go w.read(stdout)

	timer := time.NewTimer(workerStartWallMax)
	defer timer.Stop()
	select {
	case l, ok := <-w.lines:
		switch {
		case !ok:
			return nil, fmt.Errorf("sim: seed worker %q exited (%s) before it was ready; does it call sim.ServeSeeds?\n%s", iso.Command[0], exitString(w.waitErr), w.out.excerpt())
		case l.err != nil || l.rep.Hello != workerProtocol:
			w.kill()
			return nil, fmt.Errorf("sim: seed worker %q did not greet with protocol %d (%v %+v)", iso.Command[0], workerProtocol, l.err, l.rep)
		}
		return w, nil
	case <-timer.C:
		w.kill()
		return nil, fmt.Errorf("sim: seed worker %q was not ready within %v; it was killed\n%s", iso.Command[0], workerStartWallMax, w.out.excerpt())
	}
}

// read passes the worker's protocol lines to w.lines and everything else
// on its stdout to w.out, then waits for the worker to exit.
func (w *worker) read(stdout io.Reader) {
	defer close(w.lines)
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := readLine(br, replyBytesMax)
		if i := bytes.Index(line, []byte(workerMarker)); i >= 0 {
			_, _ = w.out.Write(line[:i])
			var rep workerReply
			if derr := json.Unmarshal(line[i+len(workerMarker):], &rep); derr != nil {
				w.lines <- workerLine{err: derr}
			} else {
				w.lines <- workerLine{rep: rep}
			}
		} else if len(line) > 0 {
			_, _ = w.out.Write(line)
			_, _ = w.out.Write([]byte("\n"))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.lines <- workerLine{err: err}
				// Nothing reads the pipe any more: the worker may block
				// writing to it until run kills it.
			}
			break
		}
	}
	w.waitErr = w.cmd.Wait()
}

var errLineTooLong = fmt.Errorf("a line of over %d bytes", replyBytesMax)

// readLine reads one line without its newline, of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// run sends q to the worker and waits for its result, within the bounds
// of iso. It returns the reply, or why the worker crashed (the worker is
// then dead); delivered is false when the worker was dead before it
// could take q.
func (w *worker) run(q seedRequest, iso Isolation) (rep *workerReply, crash string, delivered bool) {
	w.out.reset()
	b, err := json.Marshal(q)
	if err != nil {
		panic(fmt.Sprintf("sim: encoding a seed request: %v", err)) // plain fields: cannot fail
	}
	if _, err := w.stdin.Write(append(b, '\n')); err != nil {
		w.kill()
		return nil, fmt.Sprintf("the seed worker exited (%s) before it took the seed; its last output:", exitString(w.waitErr)), false
	}
	wallMax := iso.seedWallMax()
	timer := time.NewTimer(wallMax)
	defer timer.Stop()
	var memCheck <-chan time.Time
	if iso.MemoryBytesMax > 0 {
		t := time.NewTicker(memoryCheckInterval)
		defer t.Stop()
		memCheck = t.C
	}
	for {
		select {
		case l, ok := <-w.lines:
			switch {
			case !ok:
				return nil, fmt.Sprintf("the seed worker exited (%s) before it finished the seed; its last output:", exitString(w.waitErr)), true
			case l.err != nil:
				w.kill()
				return nil, fmt.Sprintf("the seed worker's output is unreadable (%v); it was killed; its last output:", l.err), true
			case l.rep.Result == nil || l.rep.Result.Seed != q.Seed:
				w.kill()
				return nil, fmt.Sprintf("the seed worker answered seed %d with %+v; it was killed; its last output:", q.Seed, l.rep), true
			}
			return &l.rep, "", true
		case <-timer.C:
			w.kill()
			return nil, fmt.Sprintf("no result within %v: the seed worker was killed (a hang, a deadlock, or a seed slower than the bound); its last output:", wallMax), true
		case <-memCheck:
			if rss, ok := residentBytes(w.cmd.Process.Pid); ok && rss > iso.MemoryBytesMax {
				w.kill()
				return nil, fmt.Sprintf("the seed worker's resident memory reached %s, above the bound of %s: it was killed; its last output:", formatBytes(rss), formatBytes(iso.MemoryBytesMax)), true
			}
		}
	}
}

// kill kills the worker and waits until it has exited and its output is
// read, so that w.out holds all of it.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	for range w.lines {
	}
}

// stop closes the worker's stdin, which ends ServeSeeds, and waits for the
// worker to exit; one that does not within workerStopWallMax is killed.
func (w *worker) stop() {
	_ = w.stdin.Close()
	timer := time.NewTimer(workerStopWallMax)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-w.lines:
			if !ok {
				return
			}
		case <-timer.C:
			w.kill()
			return
		}
	}
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// outputTail keeps the beginning and the end of a worker's output since
// the last reset. It is written by exec's stderr copier and by the stdout
// reader, and read by run.
type outputTail struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	dropped bool // bytes between head and tail were dropped
}

func (o *outputTail) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	if room := outputHeadBytesMax - len(o.head); room > 0 {
		k := min(room, len(p))
		o.head = append(o.head, p[:k]...)
		p = p[k:]
	}
	o.tail = append(o.tail, p...)
	if extra := len(o.tail) - outputTailBytesMax; extra > 0 {
		o.tail = o.tail[:copy(o.tail, o.tail[extra:])]
		o.dropped = true
	}
	return n, nil
}

func (o *outputTail) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.head, o.tail, o.dropped = o.head[:0], o.tail[:0], false
}

// excerpt is what a crash's reason quotes of the output: from the first
// line that starts a Go crash report ("panic: ", "fatal error: ") the
// next few lines, which hold the error and the first stack frames; without
// such a line, the last few lines.
func (o *outputTail) excerpt() string {
	o.mu.Lock()
	text := string(o.head)
	if len(o.tail) > 0 {
		if o.dropped {
			text += "\n…\n"
		}
		text += string(o.tail)
	}
	o.mu.Unlock()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if text == "" {
		return "  (nothing)"
	}
	from := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			from = i
			break
		}
	}
	if from >= 0 {
		lines = lines[from:min(len(lines), from+excerptLinesMax)]
	} else if len(lines) > excerptLinesMax/2 {
		lines = lines[len(lines)-excerptLinesMax/2:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// residentBytes reads the resident set size of process pid from Linux's
// /proc; ok is false where that is not possible.
func residentBytes(pid int) (n int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, found := strings.CutPrefix(line, "VmRSS:")
		if !found {
			continue
		}
		kb, found := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !found {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return 0, false
		}
		return v << 10, true
	}
	return 0, false
}

// formatBytes prints n in binary units: 512 B, 1.5 KiB, 4 GiB.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + units[i]
}
