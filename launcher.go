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
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// launcher starts worker processes from staged job binaries for a node's
// raylet (raylet.Launcher): it fetches a binary from the GCS once per
// hash into DATA-DIR/binaries (verified by hash before every exec),
// starts it in worker mode with the cluster secret on stdin and its
// output in DATA-DIR/logs/worker-TOKEN.{out,err}, and reports failures
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

	mu       sync.Mutex
	closed   bool
	procs    map[string]*exec.Cmd // running workers by launch token
	fetching map[string]*fetchWait
	wg       sync.WaitGroup
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
	c       *gcs.Client
}

func (p *fetchProc) Start(env core.Env) {
	p.c = gcs.NewClient(env, p.gcsAddr, gcs.ClientOptions{Deadline: time.Minute})
}
func (p *fetchProc) Receive(from core.Addr, m core.Message) { p.c.Handle(from, m) }
func (p *fetchProc) Stop()                                  { p.c.Close() }

var tcpPort = regexp.MustCompile(`/tcp/\d+`)

func newLauncher(host *net.Host, log *slog.Logger, secret []byte, gcsAddr core.Addr, listen, dataDir string) *launcher {
	return &launcher{host: host, log: log, secret: secret, gcsAddr: gcsAddr,
		listen: tcpPort.ReplaceAllString(listen, "/tcp/0"),
		binDir: filepath.Join(dataDir, "binaries"), logDir: filepath.Join(dataDir, "logs"),
		procs: map[string]*exec.Cmd{}, fetching: map[string]*fetchWait{}}
}

// Launch implements raylet.Launcher.
func (l *launcher) Launch(token, binary string, job core.JobID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
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
	if err := l.host.Do(l.rayletAddr, func() { f(l.raylet) }); err != nil && !errors.Is(err, net.ErrClosed) {
		l.log.Warn("gray: reporting to the raylet", "err", err)
	}
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
	stdout, err := os.Create(filepath.Join(l.logDir, "worker-"+token+".out"))
	if err != nil {
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		return
	}
	defer stdout.Close()
	stderr := &tailWriter{max: 4 << 10}
	errFile, err := os.Create(filepath.Join(l.logDir, "worker-"+token+".err"))
	if err != nil {
		l.report(func(r *raylet.Raylet) { r.LaunchFailed(token, err.Error(), false) })
		return
	}
	defer errFile.Close()
	stderr.file = errFile

	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(),
		envWorkerRaylet+"="+string(l.rayletAddr),
		envWorkerGCS+"="+string(l.gcsAddr),
		envWorkerBinary+"="+binary,
		envWorkerLaunch+"="+token,
		envWorkerListen+"="+l.listen,
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
	l.mu.Unlock()
	l.log.Info("gray: started a worker", "token", token, "binary", binary[:12], "job", job.String(), "pid", cmd.Process.Pid)

	err = cmd.Wait()
	l.mu.Lock()
	delete(l.procs, token)
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return
	}
	reason := exitReason(cmd, err)
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
	var m binaryManifest
	if err := json.Unmarshal(mb, &m); err != nil || m.Chunks < 1 || m.Size < 1 || m.Size > binaryMax {
		return "", permanentError{fmt.Errorf("job binary %s has a corrupt manifest %q", binary[:12], mb)}
	}
	if m.GOOS != goruntime.GOOS || m.GOARCH != goruntime.GOARCH {
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

// close kills every worker it started and waits for their goroutines.
func (l *launcher) close() {
	l.mu.Lock()
	l.closed = true
	for _, c := range l.procs { //gray:unordered killing all
		_ = c.Process.Kill()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// tailWriter copies a worker's stderr to its log file and keeps the last
// max bytes for the exit report.
type tailWriter struct {
	file *os.File
	max  int
	mu   sync.Mutex
	buf  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return t.file.Write(p)
}

func (t *tailWriter) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
