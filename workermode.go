package gray

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/net"
)

// Worker mode: a raylet's launcher starts the job's binary with these
// environment variables and the cluster secret on stdin. Init in such a
// process never returns: it serves tasks and actors as a worker of that
// raylet until the raylet tells it to exit, its node dies, or the process
// is killed, then exits the process. This is the worker contract of
// docs/api.md: register functions at package init, call Init before any
// driver work, and never rely on code after Init running in workers.
const (
	envWorkerRaylet = "GRAY_WORKER_RAYLET" // the raylet's address; its presence selects worker mode
	envWorkerGCS    = "GRAY_WORKER_GCS"
	envWorkerBinary = "GRAY_WORKER_BINARY" // the staged binary's hash
	envWorkerLaunch = "GRAY_WORKER_LAUNCH" // the raylet's launch token
	envWorkerListen = "GRAY_WORKER_LISTEN" // the multiaddr to listen on
	envWorkerJob    = "GRAY_WORKER_JOB"    // the job's id, as an integer
)

// IsWorker reports whether this process was started by a raylet as a
// worker; Init then serves tasks instead of returning.
func IsWorker() bool { return os.Getenv(envWorkerRaylet) != "" }

// ServeIfWorker serves as a worker and exits the process if a raylet
// started this process as one (IsWorker); otherwise it returns at once.
// Init does the same, so most programs need not call it; a program that
// parses its command line or does other work before Init calls it first
// thing in main, because a launched worker gets no arguments.
func ServeIfWorker() {
	if IsWorker() {
		runWorker()
	}
}

// runWorker serves as a launched worker and exits the process.
func runWorker() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	code := 0
	if err := serveWorker(log); err != nil {
		log.Error("gray worker", "err", err)
		code = 1
	}
	os.Exit(code)
}

func serveWorker(log *slog.Logger) error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the cluster secret from stdin: %w", err)
	}
	secret := []byte(strings.TrimSpace(line))
	listen := os.Getenv(envWorkerListen)
	if listen == "" {
		listen = net.DefaultListenAddr
	}
	tr, err := net.NewP2P(net.P2POptions{ListenAddrs: []string{listen}, ClusterSecret: secret, Logger: log})
	if err != nil {
		return err
	}
	defer tr.Close()
	exited := make(chan error, 1)
	h := net.NewHost(net.HostOptions{Transport: tr, Logger: log, OnExit: func(_ core.Addr, err error) {
		select {
		case exited <- err:
		default:
		}
	}})
	defer h.Close()
	job, err := strconv.ParseUint(os.Getenv(envWorkerJob), 10, 32)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", envWorkerJob, os.Getenv(envWorkerJob), err)
	}
	launch := os.Getenv(envWorkerLaunch)
	w := process.NewWorker(process.WorkerConfig{Raylet: core.Addr(os.Getenv(envWorkerRaylet)), GCS: core.Addr(os.Getenv(envWorkerGCS)),
		Binary: os.Getenv(envWorkerBinary), Launch: launch, Job: core.JobIDFromInt(uint32(job))})
	// The process name carries the launch token, so that an actor's
	// address leads to its worker's log files (gray logs --actor).
	if _, err := h.Add("worker-"+launch, w); err != nil {
		return err
	}
	err = <-exited
	var fs core.FailStop
	if err == nil || errors.As(err, &fs) {
		log.Warn("gray worker exiting", "why", err)
		return nil
	}
	return err
}
