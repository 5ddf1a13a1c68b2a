package gray

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// launcher starts worker processes from staged job binaries for a node's
// raylet (raylet.Launcher): it fetches a binary from the GCS once per
// hash into DATA-DIR/binaries (verified by hash before every exec),
// starts it in worker mode with the cluster secret on stdin and its
// output in DATA-DIR/logs/job-JOB-worker-TOKEN.{out,err} (and streamed to
// the job's driver), and reports failures
// and exits to the raylet on its loop.
type launcher struct {
	host    *net.Host
	log     *slog.Logger
	secret  []byte
	gcsAddr core.Addr
	listen  string // the workers' listen multiaddr
	binDir  string
	logDir  string

	// Set once the raylet runs.
	raylet     *raylet.Raylet
	rayletAddr core.Addr
	fetcher    *fetchProc
	fetchAddr  core.Addr

	// own starts the workers of the node program's own binary (Launch
	// with binary ""): in this process, from the node's pool.
	own *pool
	// memLimit kills a worker whose resident memory passes it; 0: none.
	memLimit int64
	mu       sync.Mutex
	nodeID   core.NodeID // the raylet's node, for the log lines' prefix
	closed   bool
	procs    map[string]*exec.Cmd // running workers by launch token
	// procBinary: the binary of each running worker, by launch token;
	// used: when each cached binary was last launched or last ran. The
	// cache sweep (sweepCache) keeps what runs or ran within retention.
	procBinary map[string]string
	used       map[string]time.Time
	retention  time.Duration
	stopSweep  chan struct{}
	drivers    map[core.JobID]core.Addr
	// jobDrivers are the submitted jobs' drivers this node runs
	// (launcher_drivers.go), by submission id; jobDir holds their
	// working directories.
	jobDrivers map[string]*driverProc
	jobDir     string
	fetching   map[string]*fetchWait
	wg         sync.WaitGroup
}

type fetchWait struct {
	done chan struct{}
	path string
	err  error
}

// permanentError marks a launch failure that retrying cannot fix.
type permanentError struct{ error }

// fetchProc is the node's process that reads staged binaries from the
// GCS.
type fetchProc struct {
	gcsAddr core.Addr
	env     core.Env
	c       *gcs.Client
	// rpc reaches other nodes' services (the dashboard reads their logs).
	rpc *rpc.Client
}

func (p *fetchProc) Start(env core.Env) {
	p.env = env
	p.c = gcs.NewClient(env, p.gcsAddr, gcs.ClientOptions{Deadline: time.Minute})
	p.rpc = rpc.NewClient(env)
}

func (p *fetchProc) Receive(from core.Addr, m core.Message) {
	if p.c.Handle(from, m) {
		return
	}
	p.rpc.Handle(from, m)
}
func (p *fetchProc) Stop() { p.c.Close() }

var tcpPort = regexp.MustCompile(`/tcp/\d+`)

func newLauncher(host *net.Host, log *slog.Logger, secret []byte, gcsAddr core.Addr, listen, dataDir string) *launcher {
	return &launcher{host: host, log: log, secret: secret, gcsAddr: gcsAddr,
		listen: tcpPort.ReplaceAllString(listen, "/tcp/0"),
		binDir: filepath.Join(dataDir, "binaries"), logDir: filepath.Join(dataDir, "logs"), jobDir: filepath.Join(dataDir, "jobs"),
		jobDrivers: map[string]*driverProc{},
		procs:      map[string]*exec.Cmd{}, fetching: map[string]*fetchWait{}, drivers: map[core.JobID]core.Addr{},
		procBinary: map[string]string{}, used: map[string]time.Time{}, retention: time.Hour, stopSweep: make(chan struct{})}
}

// cacheSweep is how often a node looks for cached binaries to remove.
const cacheSweep = 10 * time.Minute

// startSweep starts removing cached job binaries (under binDir) that no
// running worker uses and that were last used more than retention ago
// (negative: never), every cacheSweep.
func (l *launcher) startSweep() {
	if l.retention < 0 {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(cacheSweep)
		defer tick.Stop()
		for {
			select {
			case <-l.stopSweep:
				return
			case now := <-tick.C:
				l.sweepCache(now)
			}
		}
	}()
}

// sweepCache removes the cached binaries no running worker uses, last
// used (launched, or a worker of it exited) more than retention ago; a
// file this process never used counts from its modification time.
func (l *launcher) sweepCache(now time.Time) (removed int) {
	entries, err := os.ReadDir(l.binDir)
	if err != nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	running := map[string]bool{}
	for _, b := range l.procBinary { //gray:unordered building a set
		running[b] = true
	}
	for _, e := range entries {
		name := e.Name()
		if running[name] || l.fetching[name] != nil && !isDone(l.fetching[name]) {
			continue
		}
		last, ok := l.used[name]
		if !ok {
			info, err := e.Info()
			if err != nil {
				continue
			}
			last = info.ModTime()
		}
		if now.Sub(last) < l.retention {
			continue
		}
		if err := os.Remove(filepath.Join(l.binDir, name)); err != nil {
			l.log.Warn("gray: removing a cached job binary", "file", name, "err", err)
			continue
		}
		delete(l.used, name)
		delete(l.fetching, name)
		removed++
	}
	if removed > 0 {
		l.log.Info("gray: removed cached job binaries no worker used within the retention", "binaries", removed, "retention", l.retention.String())
	}
	return removed
}

// isDone reports whether a fetch has ended.
func isDone(f *fetchWait) bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Launch implements raylet.Launcher.
func (l *launcher) Launch(token, binary string, job core.JobID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if binary == "" {
		l.own.launch("worker", l.rayletAddr, token, l.report)
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(token, binary, job)
	}()
}

// report runs f on the raylet's loop.
func (l *launcher) report(f func(r *raylet.Raylet)) {
	reportTo(l.host, l.rayletAddr, l.raylet, l.log, f)
}

func (l *launcher) run(token, binary string, job core.JobID) {
	path, err := l.fetch(binary)
	if err != nil {
		var perm permanentError
		permanent := errors.As(err, &perm)
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), permanent) })
		return
	}
	if err := os.MkdirAll(l.logDir, 0o700); err != nil {
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		return
	}
	logName := fmt.Sprintf("job-%d-worker-%s", job.Int(), token)
	outFile, err := os.Create(filepath.Join(l.logDir, logName+".out"))
	if err != nil {
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		return
	}
	defer outFile.Close()
	errFile, err := os.Create(filepath.Join(l.logDir, logName+".err"))
	if err != nil {
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		return
	}
	defer errFile.Close()
	stdout := &logSink{file: outFile}
	stderr := &logSink{file: errFile, stderr: true, tailMax: 4 << 10}

	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(),
		envWorkerRaylet+"="+string(l.rayletAddr),
		envWorkerGCS+"="+string(l.gcsAddr),
		envWorkerBinary+"="+binary,
		envWorkerLaunch+"="+token,
		envWorkerListen+"="+l.listen,
		fmt.Sprintf("%s=%d", envWorkerJob, job.Int()),
		"GRAY_ADDRESS=", "GRAY_SECRET_FILE=",
	)
	cmd.Stdin = bytes.NewReader(append(append([]byte{}, l.secret...), '\n'))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setPdeathsig(cmd)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		// ENOEXEC and the like: the file is no program for this host.
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, fmt.Sprintf("exec: %v", err), true) })
		return
	}
	l.procs[token] = cmd
	l.procBinary[token] = binary
	l.used[binary] = time.Now()
	l.mu.Unlock()
	pid := cmd.Process.Pid
	l.log.Info("gray: started a worker", "token", token, "binary", binary[:12], "job", job.String(), "pid", pid)
	stopForward := make(chan struct{})
	forwarded := make(chan struct{})
	go func() { // ends when the process has exited and its output is sent
		defer close(forwarded)
		l.forwardLogs(job, pid, stopForward, stdout, stderr)
	}()
	stopMem := l.watchMemory(cmd)

	err = cmd.Wait()
	killedForMemory := stopMem()
	close(stopForward)
	<-forwarded
	l.mu.Lock()
	delete(l.procs, token)
	delete(l.procBinary, token)
	l.used[binary] = time.Now()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	reason := exitReason(cmd, err)
	if killedForMemory != "" {
		reason = killedForMemory + " (" + reason + ")"
	}
	if tail := strings.TrimSpace(stderr.tail()); tail != "" && !cmd.ProcessState.Success() {
		reason += "; last output: " + tail
	}
	l.report(func(r *raylet.Raylet) { r.WorkerExited(token, reason) })
}

// exitReason says how a worker process ended: exit code or signal.
func exitReason(cmd *exec.Cmd, err error) string {
	st := cmd.ProcessState
	if st == nil {
		return fmt.Sprintf("wait: %v", err)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("pid %d killed by signal %v", st.Pid(), ws.Signal())
	}
	return fmt.Sprintf("pid %d exited with code %d", st.Pid(), st.ExitCode())
}

// fetch returns the path of binary's verified executable on this host,
// reading it from the GCS the first time.
func (l *launcher) fetch(binary string) (string, error) {
	l.mu.Lock()
	if f, ok := l.fetching[binary]; ok {
		l.mu.Unlock()
		<-f.done
		if f.err != nil {
			return "", f.err
		}
		return f.path, verify(f.path, binary)
	}
	f := &fetchWait{done: make(chan struct{})}
	l.fetching[binary] = f
	l.mu.Unlock()
	f.path, f.err = l.download(binary)
	close(f.done)
	if f.err != nil {
		var perm permanentError
		if !errors.As(f.err, &perm) {
			l.mu.Lock()
			delete(l.fetching, binary) // transient: try again next time
			l.mu.Unlock()
		}
	}
	return f.path, f.err
}

// verify checks that the file at path hashes to binary.
func verify(path, binary string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != binary {
		return permanentError{fmt.Errorf("the cached job binary %s does not match its hash (corrupt); delete it to fetch it again", path)}
	}
	return nil
}

func (l *launcher) download(binary string) (string, error) {
	path := filepath.Join(l.binDir, binary)
	if _, err := os.Stat(path); err == nil {
		return path, verify(path, binary)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	get := func(key string) ([]byte, bool, error) {
		type res struct {
			r   gcs.Reply
			err error
		}
		ch := make(chan res, 1)
		if err := l.host.Do(l.fetchAddr, func() {
			l.fetcher.c.KVGet(binaryNS, key, func(r gcs.Reply, err error) { ch <- res{r, err} })
		}); err != nil {
			return nil, false, err
		}
		select {
		case r := <-ch:
			return r.r.Value, r.r.Found, r.err
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	mb, found, err := get(binary)
	if err != nil {
		return "", fmt.Errorf("reading the manifest of job binary %s from the GCS: %w", binary[:12], err)
	}
	if !found {
		return "", permanentError{fmt.Errorf("job binary %s is not staged in the GCS (its upload did not finish)", binary[:12])}
	}
	var m gcs.BinaryManifest
	if err := json.Unmarshal(mb, &m); err != nil || m.Chunks < 1 || m.Size < 1 || m.Size > binaryMax {
		return "", permanentError{fmt.Errorf("job binary %s has a corrupt manifest %q", binary[:12], mb)}
	}
	if m.Kind == "" && (m.GOOS != goruntime.GOOS || m.GOARCH != goruntime.GOARCH) {
		return "", permanentError{fmt.Errorf("job binary %s is built for %s/%s, and this node is %s/%s: build the driver for the cluster's platform (GOOS=%s GOARCH=%s)",
			binary[:12], m.GOOS, m.GOARCH, goruntime.GOOS, goruntime.GOARCH, goruntime.GOOS, goruntime.GOARCH)}
	}
	data := make([]byte, 0, m.Size)
	for i := range m.Chunks {
		c, found, err := get(fmt.Sprintf("%s/%d", binary, i))
		if err != nil {
			return "", fmt.Errorf("reading chunk %d/%d of job binary %s: %w", i+1, m.Chunks, binary[:12], err)
		}
		if !found {
			return "", permanentError{fmt.Errorf("chunk %d/%d of job binary %s is missing", i+1, m.Chunks, binary[:12])}
		}
		data = append(data, c...)
	}
	if sum := sha256.Sum256(data); int64(len(data)) != m.Size || hex.EncodeToString(sum[:]) != binary {
		return "", permanentError{fmt.Errorf("job binary %s is corrupt: %d bytes hash to %x, want %d bytes hashing to %s", binary[:12], len(data), sum[:6], m.Size, binary[:12])}
	}
	if err := os.MkdirAll(l.binDir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(l.binDir, binary+".tmp*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o700); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	l.log.Info("gray: fetched a job binary", "binary", binary[:12], "bytes", len(data))
	return path, nil
}

// request sends m to the process at to from the node's fetcher process
// and waits for the reply (or ctx).
func (l *launcher) request(ctx context.Context, to core.Addr, m core.Message) (core.Message, error) {
	type result struct {
		m   core.Message
		err error
	}
	ch := make(chan result, 1)
	if err := l.host.Do(l.fetchAddr, func() {
		l.fetcher.rpc.Call(to, m, rpc.Options{Timeout: 10 * time.Second}, func(r core.Message, err error) { ch <- result{r, err} })
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close kills every worker it started and waits for their goroutines.
func (l *launcher) close() {
	l.mu.Lock()
	if !l.closed {
		close(l.stopSweep)
	}
	l.closed = true
	for _, c := range l.procs { //gray:unordered killing all
		_ = c.Process.Kill()
	}
	for _, d := range l.jobDrivers { //gray:unordered killing all
		if d.cmd != nil {
			_ = d.cmd.Process.Kill()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// logSink takes one output stream of a worker: it copies it to the
// worker's log file, keeps complete lines for forwarding to the job's
// driver (bounded: lines beyond the bound are counted and dropped) and,
// for stderr, the last tailMax bytes for the exit report.
type logSink struct {
	file    *os.File
	stderr  bool
	tailMax int

	mu      sync.Mutex
	partial []byte
	lines   []string
	dropped int
	tailBuf []byte
}

// logLinesMax bounds the lines a sink holds between two forwards.
const logLinesMax = 1000

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tailMax > 0 {
		s.tailBuf = append(s.tailBuf, p...)
		if len(s.tailBuf) > s.tailMax {
			s.tailBuf = append(s.tailBuf[:0], s.tailBuf[len(s.tailBuf)-s.tailMax:]...)
		}
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.addLine(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > proto.LogLineSizeMax {
		s.addLine(string(s.partial))
		s.partial = s.partial[:0]
	}
	return s.file.Write(p)
}

func (s *logSink) addLine(l string) {
	if len(l) > proto.LogLineSizeMax {
		l = l[:proto.LogLineSizeMax]
	}
	if len(s.lines) >= logLinesMax {
		s.dropped++
		return
	}
	s.lines = append(s.lines, l)
}

// take returns the lines held (and a note of dropped ones), and with
// final the unterminated last line too.
func (s *logSink) take(final bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if final && len(s.partial) > 0 {
		s.addLine(string(s.partial))
		s.partial = nil
	}
	out := s.lines
	s.lines = nil
	if s.dropped > 0 {
		out = append(out, fmt.Sprintf("[gray: %d lines dropped: the worker wrote faster than they could be forwarded]", s.dropped))
		s.dropped = 0
	}
	return out
}

func (s *logSink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.tailBuf)
}

// logForwardPeriod is how often a worker's output goes to its driver.
const logForwardPeriod = 200 * time.Millisecond

// forwardLogs sends the worker's output lines to its job's driver every
// logForwardPeriod until stop is closed, then the rest.
func (l *launcher) forwardLogs(job core.JobID, pid int, stop <-chan struct{}, sinks ...*logSink) {
	t := time.NewTicker(logForwardPeriod)
	defer t.Stop()
	for {
		final := false
		select {
		case <-stop:
			final = true
		case <-t.C:
		}
		for _, s := range sinks {
			if lines := s.take(final); len(lines) > 0 {
				l.sendLogs(job, pid, s.stderr, lines)
			}
		}
		if final {
			return
		}
	}
}

// sendLogs sends lines to job's driver, looked up in the GCS once.
func (l *launcher) sendLogs(job core.JobID, pid int, stderr bool, lines []string) {
	driver := l.driverOf(job)
	if driver == "" {
		return
	}
	l.mu.Lock()
	node := l.nodeID
	l.mu.Unlock()
	_ = l.host.Do(l.fetchAddr, func() {
		l.fetcher.env.Send(driver, &proto.WorkerLogs{Job: job, Node: node, Pid: pid, Stderr: stderr, Lines: lines})
	})
}

// driverOf returns job's driver address from the GCS (cached), or "".
func (l *launcher) driverOf(job core.JobID) core.Addr {
	l.mu.Lock()
	if a, ok := l.drivers[job]; ok {
		l.mu.Unlock()
		return a
	}
	l.mu.Unlock()
	ch := make(chan gcs.Reply, 1)
	if err := l.host.Do(l.fetchAddr, func() {
		l.fetcher.c.ListJobs(func(r gcs.Reply, err error) {
			if err != nil {
				r = gcs.Reply{}
			}
			ch <- r
		})
	}); err != nil {
		return ""
	}
	var r gcs.Reply
	select {
	case r = <-ch:
	case <-time.After(time.Minute):
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range r.Jobs {
		l.drivers[j.ID] = j.DriverAddr
	}
	return l.drivers[job]
}

// watchMemory kills cmd's process when its resident memory passes the
// node's worker memory limit (if one is set). The returned stop function
// ends the watch and returns why the process was killed, or "".
func (l *launcher) watchMemory(cmd *exec.Cmd) (stop func() string) {
	if l.memLimit <= 0 {
		return func() string { return "" }
	}
	done := make(chan struct{})
	var why string
	var mu sync.Mutex
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(memoryCheckPeriod)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rss, err := residentBytes(cmd.Process.Pid)
			if err != nil || rss <= l.memLimit {
				continue
			}
			mu.Lock()
			why = fmt.Sprintf("killed: its resident memory %d MiB exceeded the worker memory limit of %d MiB", rss>>20, l.memLimit>>20)
			mu.Unlock()
			_ = cmd.Process.Kill()
			return
		}
	}()
	return func() string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return why
	}
}

// memoryCheckPeriod is how often a worker's memory is sampled.
const memoryCheckPeriod = 250 * time.Millisecond
