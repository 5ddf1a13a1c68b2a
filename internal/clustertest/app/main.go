// Command app is the user program of the multi-process tests: one binary
// that is a node (gray.ServeNode, so its registered functions run there)
// or a driver (gray.Init with an address), the pattern docs/operations.md
// describes for running user code on a cluster.
//
//	app node --head|--join ADDRESS --data-dir DIR --secret-file FILE [--listen MULTIADDR] [--cpus N] [--labels K=V,…] [--custom NAME]
//	app drive --address ADDRESS --secret-file FILE [--raylet ADDRESS]
//
// A node prints its address (the GCS's for the head, else its raylet's)
// on stdout. A driver reads commands from stdin, one per line, and
// answers each with one line, "ok ..." or "error ...":
//
//	spread N         N tasks with SPREAD; ok PID,PID,... (the distinct pids that ran them)
//	actors N         N actors with SPREAD, each asked its pid; ok PID,PID,...
//	dag              a 1 MiB Put summed by a task; ok SUM
//	slow N MS        N tasks of MS milliseconds each, submitted; "submitted", then ok PIDS once all finished
//	actor NAME       get-or-create the named counter actor (max_restarts -1) and add 1; ok COUNT PID
//	nodes N          N tasks with SPREAD; ok RAYLET,RAYLET,... (the distinct raylets of the workers that ran them)
//	panic            a task that panics; ok MESSAGE|STACK (the error's parts)
//	suicide PATH     a task that kills its own worker with SIGKILL the first time (creating PATH); ok PID of the retry
//	hog MB           a task (no retries) that holds MB MiB of memory for 2 s; ok or the error
//	echo TEXT        a task that prints TEXT on its stdout; ok
//	rtt N            N small tasks one after another; ok MEAN (the mean round trip)
//	late NAME        a task needing the custom resource NAME: "submitted", then ok PID once a node that has it ran it
//	(and the programming model's commands: see model.go)
//	quit             shut down and exit
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grayrt/gray"
	gnet "github.com/grayrt/gray/net"
)

// variant is set with -ldflags "-X main.variant=..." to build a binary
// with another hash.
var variant string

// Counter is the actor of the tests.
type Counter struct{ n int }

var (
	pidTask = gray.Task0("app.pid", func(context.Context) (int, error) { return os.Getpid(), nil })
	// slow sleeps ms; when dir is set it first writes dir/started-PID-N,
	// so a test can wait until tasks run on a node.
	slow = gray.Task2("app.slow", func(ctx context.Context, ms int, dir string) (int, error) {
		if dir != "" {
			f, err := os.CreateTemp(dir, fmt.Sprintf("started-%d-", os.Getpid()))
			if err != nil {
				return 0, err
			}
			_ = f.Close()
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return os.Getpid(), nil
	})
	sum = gray.Task1("app.sum", func(_ context.Context, b []byte) (int, error) {
		s := 0
		for _, x := range b {
			s += int(x)
		}
		return s, nil
	})
	// runtimeContext returns the task's runtime context.
	runtimeContext = gray.Task0("app.context", gray.GetRuntimeContext)
	// where names the raylet of the worker: set in launched workers, else
	// the worker runs inside a node started from this program.
	where = gray.Task0("app.where", func(context.Context) (string, error) {
		if r := os.Getenv("GRAY_WORKER_RAYLET"); r != "" {
			return r, nil
		}
		return fmt.Sprintf("in-process:%d", os.Getpid()), nil
	})
	boom = gray.Task0("app.panic", func(context.Context) (int, error) { panic("kaboom from a task") })
	// suicide kills its own worker process the first time it runs (the
	// marker file tells later attempts), as kill -9 of the worker would.
	suicide = gray.Task1("app.suicide", func(_ context.Context, marker string) (int, error) {
		if _, err := os.Stat(marker); err != nil {
			if err := os.WriteFile(marker, []byte("killed\n"), 0o600); err != nil {
				return 0, err
			}
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives
		}
		return os.Getpid(), nil
	})
	hog = gray.Task1("app.hog", func(ctx context.Context, mb int) (int, error) {
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // resident, not just reserved
		}
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
		return int(b[len(b)-1]), nil
	})
	echo = gray.Task1("app.echo", func(_ context.Context, s string) (int, error) {
		fmt.Println(s)
		return 0, nil
	})
	counter = gray.Actor("app.Counter", func(context.Context) (*Counter, error) { return &Counter{}, nil })
	add     = gray.Method1("app.add", func(c *Counter, _ context.Context, d int) (int, error) {
		c.n += d
		return c.n, nil
	})
	actorPid = gray.Method0("app.actorPid", func(*Counter, context.Context) (int, error) { return os.Getpid(), nil })
)

func main() {
	_ = variant
	gray.ServeIfWorker() // a launched worker has no arguments to parse
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: app node|drive [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "node":
		err = node(ctx, os.Args[2:])
	case "drive":
		err = drive(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func node(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	head := fs.Bool("head", false, "start the head")
	join := fs.String("join", "", "GCS address to join")
	dataDir := fs.String("data-dir", "", "data dir")
	secretFile := fs.String("secret-file", "", "cluster secret file")
	listen := fs.String("listen", "", "listen multiaddr")
	cpus := fs.Int("cpus", 2, "CPUs")
	labels := fs.String("labels", "", "labels k=v,…")
	custom := fs.String("custom", "", "a custom resource NAME of amount 1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, err := gnet.ReadSecretFile(*secretFile)
	if err != nil {
		return err
	}
	lm := map[string]string{}
	for _, kv := range strings.Split(*labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			lm[k] = v
		}
	}
	res := map[string]float64{"CPU": float64(*cpus)}
	if *custom != "" {
		res[*custom] = 1
	}
	n, err := gray.StartNode(ctx, gray.NodeOptions{Head: *head, Join: *join, DataDir: *dataDir, ClusterSecret: secret,
		Listen: *listen, Resources: res, Labels: lm,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	if *head {
		fmt.Println(n.GCSAddress())
	} else {
		fmt.Println(n.Address())
	}
	select {
	case <-ctx.Done():
		return n.Close()
	case err := <-n.Failed():
		n.Close()
		return err
	}
}

func drive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("drive", flag.ContinueOnError)
	address := fs.String("address", "", "GCS address")
	secretFile := fs.String("secret-file", "", "cluster secret file")
	raylet := fs.String("raylet", "", "raylet to submit through")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := []gray.InitOption{gray.WithAddress(*address), gray.WithSecretFile(*secretFile),
		gray.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))}
	if *raylet != "" {
		opts = append(opts, gray.WithRaylet(*raylet))
	}
	rt, err := gray.Init(ctx, opts...)
	if err != nil {
		return err
	}
	defer rt.Shutdown()
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			return nil
		}
		out, err := command(ctx, f)
		if err != nil {
			fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " | "))
			continue
		}
		fmt.Println("ok", out)
	}
	return sc.Err()
}

func atoi(f []string, i int) int {
	if i >= len(f) {
		return 0
	}
	n, _ := strconv.Atoi(f[i])
	return n
}

// pids formats the distinct pids, sorted.
func pids(ps []int) string {
	slices.Sort(ps)
	ps = slices.Compact(ps)
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func command(ctx context.Context, f []string) (string, error) {
	if out, ok, err := modelCommand(ctx, f); ok {
		return out, err
	}
	switch f[0] {
	case "spread":
		refs := make([]gray.Ref[int], atoi(f, 1))
		for i := range refs {
			refs[i] = pidTask.Options(gray.WithSpread()).Remote(ctx)
		}
		ps, err := gray.GetAll(ctx, refs)
		return pids(ps), err
	case "actors":
		var ps []int
		for range atoi(f, 1) {
			c, err := counter.New(ctx, gray.WithSpread())
			if err != nil {
				return "", err
			}
			p, err := actorPid.Remote(ctx, c).Get(ctx)
			if err != nil {
				return "", err
			}
			ps = append(ps, p)
		}
		return pids(ps), nil
	case "nodes":
		refs := make([]gray.Ref[string], atoi(f, 1))
		for i := range refs {
			refs[i] = where.Options(gray.WithSpread()).Remote(ctx)
		}
		rs, err := gray.GetAll(ctx, refs)
		slices.Sort(rs)
		return strings.Join(slices.Compact(rs), ","), err
	case "context":
		// N spread tasks report their runtime context: the distinct
		// nodes they ran on (each must name the driver's job), and whether
		// the driver knows its own node.
		self, err := gray.GetRuntimeContext(ctx)
		if err != nil {
			return "", err
		}
		refs := make([]gray.Ref[gray.RuntimeContext], atoi(f, 1))
		for i := range refs {
			refs[i] = runtimeContext.Options(gray.WithSpread()).Remote(ctx)
		}
		rcs, err := gray.GetAll(ctx, refs)
		if err != nil {
			return "", err
		}
		nodes := map[string]bool{}
		for _, rc := range rcs {
			if rc.JobID != self.JobID || rc.TaskID == "" || rc.WorkerID == "" {
				return "", fmt.Errorf("task context %+v, driver's %+v", rc, self)
			}
			nodes[rc.NodeID] = true
		}
		return fmt.Sprintf("%d nodes, driver on node %t", len(nodes), self.NodeID != ""), nil
	case "panic":
		_, err := boom.Remote(ctx).Get(ctx)
		var te *gray.TaskError
		if !errors.As(err, &te) || !errors.Is(err, gray.ErrTaskFailed) {
			return "", fmt.Errorf("panic task: got %v, want a TaskError", err)
		}
		return strings.ReplaceAll(te.Message+"|"+te.Stack, "\n", " "), nil
	case "suicide":
		if len(f) < 2 {
			return "", errors.New("suicide PATH")
		}
		p, err := suicide.Remote(ctx, gray.V(f[1])).Get(ctx)
		return strconv.Itoa(p), err
	case "hog":
		_, err := hog.Options(gray.WithMaxRetries(0)).Remote(ctx, gray.V(atoi(f, 1))).Get(ctx)
		if err != nil {
			return strings.ReplaceAll(err.Error(), "\n", " "), nil
		}
		return "survived", nil
	case "echo":
		_, err := echo.Remote(ctx, gray.V(strings.Join(f[1:], " "))).Get(ctx)
		return "", err
	case "rtt":
		n := max(atoi(f, 1), 1)
		if _, err := pidTask.Remote(ctx).Get(ctx); err != nil { // warm up a lease
			return "", err
		}
		start := time.Now()
		for range n {
			if _, err := pidTask.Remote(ctx).Get(ctx); err != nil {
				return "", err
			}
		}
		return (time.Since(start) / time.Duration(n)).String(), nil
	case "dag":
		b := make([]byte, 1<<20)
		want := 0
		for i := range b {
			b[i] = byte(i % 251)
			want += int(b[i])
		}
		obj := gray.Put(ctx, b)
		got, err := sum.Remote(ctx, obj).Get(ctx)
		if err == nil && got != want {
			err = fmt.Errorf("sum = %d, want %d", got, want)
		}
		return strconv.Itoa(got), err
	case "slow":
		refs := make([]gray.Ref[int], atoi(f, 1))
		for i := range refs {
			dir := ""
			if len(f) > 3 {
				dir = f[3]
			}
			refs[i] = slow.Options(gray.WithSpread(), gray.WithMaxRetries(-1)).Remote(ctx, gray.V(atoi(f, 2)), gray.V(dir))
		}
		fmt.Println("submitted")
		ps, err := gray.GetAll(ctx, refs)
		return pids(ps), err
	case "late":
		// A task and an actor needing the custom resource f[1], which no
		// node has yet: they wait for a node that has it. The answer is
		// the pids they ran in. (Half a unit each: the actor holds its
		// half for its lifetime.)
		if len(f) < 2 {
			return "", errors.New("late NAME")
		}
		need := gray.WithResources(map[string]float64{f[1]: 0.5})
		ref := pidTask.Options(need).Remote(ctx)
		c, err := counter.New(ctx, need)
		if err != nil {
			return "", err
		}
		fmt.Println("submitted")
		p, err := ref.Get(ctx)
		if err != nil {
			return "", err
		}
		ap, err := actorPid.Remote(ctx, c).Get(ctx)
		return fmt.Sprintf("%d %d", p, ap), err
	case "actor":
		if len(f) < 2 {
			return "", errors.New("actor NAME")
		}
		c, err := counter.New(ctx, gray.WithName(f[1]), gray.WithGetIfExists(), gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
		if err != nil {
			return "", err
		}
		// The driver keeps its handle, as a program that uses the actor
		// later does: an actor ends with its last handle.
		heldMu.Lock()
		held[f[1]] = c
		heldMu.Unlock()
		n, err := add.Remote(ctx, c, gray.V(1)).Get(ctx)
		if err != nil {
			return "", err
		}
		p, err := actorPid.Remote(ctx, c).Get(ctx)
		return fmt.Sprintf("%d %d", n, p), err
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}

// held keeps the handles of the actors the "actor" command made, for the
// driver's lifetime.
var (
	heldMu sync.Mutex
	held   = map[string]*gray.ActorHandle[Counter]{}
)
