package gray

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/jobstage"
	"github.com/grayrt/gray/raylet"
)

// Drivers of submitted jobs (raylet.DriverLauncher): the node fetches
// the job's binary (and working directory), runs it as a driver that
// joins this cluster (GRAY_ADDRESS, the secret on an inherited pipe,
// GRAY_SUBMISSION_ID), in DATA-DIR/jobs/ID, with its output in
// DATA-DIR/logs/job-driver-ID.log, and reports its start and exit.

const (
	// envSubmissionID names the submitted job a driver runs for; Init
	// registers its job under it.
	envSubmissionID = "GRAY_SUBMISSION_ID"
	// envSecretFD is the descriptor a supervised driver reads the
	// cluster secret from (one line), instead of a file.
	envSecretFD = "GRAY_SECRET_FD"
)

var _ raylet.DriverLauncher = (*launcher)(nil)

// driverProc is a running supervised driver.
type driverProc struct {
	cmd     *exec.Cmd
	stopped bool // a stop was asked for
	kill    *time.Timer
}

// StartDriver implements raylet.DriverLauncher.
func (l *launcher) StartDriver(spec proto.DriverSpec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if _, ok := l.jobDrivers[spec.ID]; ok {
		return
	}
	l.jobDrivers[spec.ID] = &driverProc{}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.runDriver(spec)
	}()
}

// StopDriver implements raylet.DriverLauncher: SIGTERM now, SIGKILL
// once grace passed.
func (l *launcher) StopDriver(id string, grace time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.jobDrivers[id]
	if !ok || d.stopped && grace > 0 {
		return
	}
	d.stopped = true
	if d.cmd == nil {
		return // still fetching: runDriver does not start it
	}
	if grace <= 0 {
		_ = d.cmd.Process.Kill()
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	proc := d.cmd.Process
	d.kill = time.AfterFunc(grace, func() { _ = proc.Kill() })
}

func (l *launcher) driverEnded(id string, code int32, exited bool, msg string) {
	l.mu.Lock()
	if d := l.jobDrivers[id]; d != nil && d.kill != nil {
		d.kill.Stop()
	}
	delete(l.jobDrivers, id)
	closed := l.closed
	l.mu.Unlock()
	if !closed {
		l.report(func(r *raylet.Raylet) { r.DriverExited(id, code, exited, msg) })
	}
}

func (l *launcher) runDriver(spec proto.DriverSpec) {
	fail := func(err error) { l.driverEnded(spec.ID, 0, false, err.Error()) }
	path, err := l.fetch(spec.Binary)
	if err != nil {
		fail(fmt.Errorf("fetching the job's binary: %w", err))
		return
	}
	dir := filepath.Join(l.jobDir, spec.ID)
	if err := os.RemoveAll(dir); err != nil {
		fail(err)
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fail(err)
		return
	}
	if spec.WorkingDir != "" {
		archive, err := l.fetch(spec.WorkingDir)
		if err != nil {
			fail(fmt.Errorf("fetching the job's working directory: %w", err))
			return
		}
		if err := unpackFile(archive, dir); err != nil {
			fail(fmt.Errorf("unpacking the job's working directory: %w", err))
			return
		}
	}
	if err := os.MkdirAll(l.logDir, 0o700); err != nil {
		fail(err)
		return
	}
	logFile, err := os.OpenFile(filepath.Join(l.logDir, gcs.DriverLogName(spec.ID)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
		return
	}
	defer logFile.Close()
	tail := &tailWriter{max: 4 << 10}
	secretR, secretW, err := os.Pipe()
	if err != nil {
		fail(err)
		return
	}
	cmd := exec.Command(path, spec.Args[1:]...)
	cmd.Args[0] = spec.Args[0]
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GRAY_ADDRESS="+string(l.gcsAddr), "GRAY_SECRET_FILE=", envSecretFD+"=3",
		envSubmissionID+"="+spec.ID)
	cmd.Env = append(cmd.Env, spec.Env...)
	cmd.Stdout = io.MultiWriter(logFile, tail)
	cmd.Stderr = cmd.Stdout
	cmd.ExtraFiles = []*os.File{secretR}
	setPdeathsig(cmd)
	l.mu.Lock()
	d := l.jobDrivers[spec.ID]
	if l.closed || d == nil || d.stopped {
		l.mu.Unlock()
		secretR.Close()
		secretW.Close()
		l.driverEnded(spec.ID, 0, false, "stopped before its driver started")
		return
	}
	err = cmd.Start()
	secretR.Close()
	if err != nil {
		l.mu.Unlock()
		secretW.Close()
		fail(fmt.Errorf("exec: %w", err))
		return
	}
	d.cmd = cmd
	l.used[spec.Binary] = time.Now()
	l.mu.Unlock()
	// The secret goes down a pipe, never into the environment or a
	// file; the pipe holds it even if the driver reads it late.
	_, _ = secretW.Write(append(append([]byte{}, l.secret...), '\n'))
	secretW.Close()
	l.log.Info("gray: started a submitted job's driver", "job", spec.ID, "binary", spec.Binary[:12], "pid", cmd.Process.Pid)
	l.report(func(r *raylet.Raylet) { r.DriverStarted(spec.ID) })
	err = cmd.Wait()
	st := cmd.ProcessState
	if st == nil {
		l.driverEnded(spec.ID, 0, false, fmt.Sprintf("wait: %v", err))
		return
	}
	msg := ""
	if !st.Success() {
		msg = exitReason(cmd, err)
		if t := strings.TrimSpace(tail.String()); t != "" {
			msg += "; last output: " + t
		}
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		l.driverEnded(spec.ID, -1, false, msg)
		return
	}
	l.driverEnded(spec.ID, int32(st.ExitCode()), true, msg)
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }

// unpackFile extracts the staged working directory at archive into dir.
func unpackFile(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return jobstage.Unpack(f, dir)
}
