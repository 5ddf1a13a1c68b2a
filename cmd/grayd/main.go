// Command grayd is gray's daemon: one per host of a real cluster. It runs
// gray's sans-IO components in a net.Host on the libp2p transport.
//
//	grayd --head [--listen /ip4/0.0.0.0/tcp/6380] [--data-dir DIR]
//	    runs the GCS (its pebble database in DIR/gcs, so it survives
//	    restarts) and a raylet with its object store. It prints the GCS
//	    address on stdout and writes it to the address file: that is what
//	    grayd --join and gray --address take. Without --secret-file it
//	    uses DIR/cluster-secret, creating it (mode 0600) on first start.
//	grayd --join ADDRESS --secret-file FILE [--listen ...]
//	    runs a raylet that registers with the GCS at ADDRESS, and prints
//	    the raylet's address.
//
// SIGTERM or SIGINT shuts the daemon down cleanly (exit 0). If one of its
// processes stops on its own (a disk error, a node the GCS declared dead)
// the daemon exits with status 1, for its supervisor to restart it; a
// usage error exits 2. See docs/operations.md.
//
// The daemon runs no user code yet: its raylet has no workers, so tasks
// submitted to it wait.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
	gnet "github.com/grayrt/gray/net"
)

// Exit statuses.
const (
	exitFailed = 1
	exitUsage  = 2
	// exitUnrecoverable: a restart cannot help, an operator must act
	// (the GCS's storage lost acknowledged writes). The documented
	// systemd unit does not restart on it.
	exitUnrecoverable = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the app with args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).RunContext(ctx, args)
	if err == nil {
		return 0
	}
	code := exitUsage
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "grayd:", msg)
	}
	return code
}

func usageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), exitUsage)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "grayd",
		Usage:     "run a gray head (GCS and raylet) or a node that joins one",
		UsageText: "grayd --head [options]\n   grayd --join ADDRESS --secret-file FILE [options]",
		Description: "Prints the GCS address (--head) or the raylet's address (--join) on stdout; logs go to stderr.\n" +
			"Exits 0 on SIGTERM/SIGINT, 1 when a process fail-stops (let the supervisor restart it), 2 on usage errors.",
		HideVersion:    true,
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError("%v (see grayd --help)", err)
		},
		Commands: []*cli.Command{addressCommand(stdout)},
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "head", Usage: "run the GCS and a raylet", DisableDefaultText: true},
			&cli.StringFlag{Name: "join", Usage: "run a raylet that joins the GCS at `ADDRESS` (what the head printed)"},
			&cli.StringFlag{Name: "listen", Value: "/ip4/127.0.0.1/tcp/0", Usage: "listen on `ADDR`, a multiaddr or IP:PORT; the default is loopback only: set it (e.g. 0.0.0.0:6380) for other hosts to reach this one"},
			&cli.StringFlag{Name: "advertise", Usage: "the multiaddr or IP:PORT other hosts reach this one at (behind NAT, on multi-homed hosts)", DefaultText: "the listen address, or the first non-loopback interface for 0.0.0.0"},
			&cli.StringFlag{Name: "data-dir", Usage: "keep the identity key, secret, address file and GCS database in `DIR`", DefaultText: "~/.gray/head or ~/.gray/node"},
			&cli.StringFlag{Name: "resources", Usage: "the node's resources, e.g. `CPU=4,GPU=1,memory=8GiB,custom=2`", DefaultText: "CPU=number of CPUs"},
			&cli.StringFlag{Name: "labels", Usage: "the node's labels, for label selectors on tasks and actors, e.g. `zone=us-west-1a,gpu=a100` (letters, digits and -_., keys also /)"},
			&cli.IntFlag{Name: "max-workers", Usage: "start at most `N` worker processes on demand, besides the node's max(CPUs, 2): one per actor, with max(CPUs, 2) kept for task workers, so the node hosts N - max(CPUs, 2) actors", DefaultText: "max(CPUs, 2) + memory / 64MiB (or / --worker-memory-limit, 16..1024)"},
			&cli.IntFlag{Name: "actor-slots", Hidden: true},
			&cli.StringFlag{Name: "worker-memory-limit", Usage: "kill a launched worker whose resident memory passes `BYTES` (units as for --object-store-memory); its task fails or is retried with an error that says so", DefaultText: "no limit"},
			&cli.BoolFlag{Name: "no-shared-memory", Usage: "keep the object store out of shared memory: this node's workers and drivers move objects in messages rather than map them (memfd segments, Linux)"},
			&cli.StringFlag{Name: "object-store-memory", Usage: "the object store's capacity in `BYTES` (units: KiB, MiB, GiB, KB, MB, GB)", DefaultText: "256MiB"},
			&cli.StringFlag{Name: "secret-file", EnvVars: []string{"GRAY_SECRET_FILE"}, Usage: "read the cluster secret from `FILE` (mode 0600, at least 16 bytes)", DefaultText: "DIR/cluster-secret, created by --head if missing"},
			&cli.StringFlag{Name: "address-file", Usage: "write the GCS address to `FILE`", DefaultText: "DIR/address"},
			&cli.StringFlag{Name: "gcs-replicas", Usage: "with --head, run this head's GCS as one replica of a replicated GCS: `LIST` is every replica's GCS address (this one's included), comma-separated, the same on each head, as `grayd address` prints them; 3 or 5 heads with the same --secret-file (docs/operations.md)"},
			&cli.BoolFlag{Name: "gcs-accept-loss", Usage: "with --head, start even if the GCS's storage lost acknowledged writes (it refuses to, exit status 3, otherwise); for one start, after an operator decided to"},
			&cli.DurationFlag{Name: "binary-retention", Usage: "keep a job binary no running job needs for `DURATION`: the GCS's staged copy (with --head) after its last job finished, this node's cached copy after its last worker (negative: for ever)", DefaultText: "1h"},
			&cli.DurationFlag{Name: "node-timeout", Usage: "with --head, declare a node dead after `DURATION` without a heartbeat (raise it on overloaded hosts)", DefaultText: "10s"},
			&cli.StringFlag{Name: "dashboard-listen", Value: defaultDashboardListen, Usage: "with --head, serve the dashboard (web UI, /api/v0, /metrics) on `HOST:PORT`; empty for none. The default is loopback only; if its port is taken grayd runs without a dashboard"},
			&cli.StringFlag{Name: "dashboard-token", Usage: "require the bearer token in `FILE` for every dashboard request"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log records at `LEVEL` and above: debug, info, warn, error"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := configFromFlags(c)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usageError("--log-level %q: want debug, info, warn or error", c.String("log-level"))
			}
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if err := runDaemon(c.Context, cfg, stdout, stderr, log); err != nil {
				var ec cli.ExitCoder
				if errors.As(err, &ec) {
					return err
				}
				if errors.Is(err, core.ErrUnrecoverable) {
					return cli.Exit(err.Error(), exitUnrecoverable)
				}
				return cli.Exit(err.Error(), exitFailed)
			}
			return nil
		},
	}
}

// checkGCSAddress checks a GCS address: one address, or a replicated
// GCS's replicas joined by commas, each "<multiaddr>/p2p/<peer id>"
// with or without "#gcs".
func checkGCSAddress(s string) error {
	n := 0
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !strings.Contains(a, "#") {
			a += "#gcs"
		}
		if _, err := gnet.ParseP2PAddr(core.Addr(a)); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("empty address")
	}
	return nil
}

// configFromFlags validates the flags; errors are usage errors.
func configFromFlags(c *cli.Context) (daemonConfig, error) {
	if c.Args().Present() {
		return daemonConfig{}, usageError("unexpected argument %q (see grayd --help)", c.Args().First())
	}
	cfg := daemonConfig{head: c.Bool("head"), join: strings.TrimSpace(c.String("join"))}
	if cfg.head == (cfg.join != "") {
		return cfg, usageError("give exactly one of --head and --join ADDRESS (see grayd --help)")
	}
	if !cfg.head {
		if err := checkGCSAddress(cfg.join); err != nil {
			return cfg, usageError("--join: %v", err)
		}
	}
	if s := strings.TrimSpace(c.String("gcs-replicas")); s != "" {
		if !cfg.head {
			return cfg, usageError("--gcs-replicas goes with --head: the heads run the GCS's replicas; a joining node gets their addresses with --join")
		}
		if err := checkGCSAddress(s); err != nil {
			return cfg, usageError("--gcs-replicas: %v", err)
		}
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				cfg.gcsReplicas = append(cfg.gcsReplicas, a)
			}
		}
		if n := len(cfg.gcsReplicas); n != 3 && n != 5 {
			return cfg, usageError("--gcs-replicas lists %d replicas: want 3 or 5 (a majority must live for the GCS to serve)", n)
		}
	}
	var err error
	if cfg.listen, err = listenMultiaddr(c.String("listen")); err != nil {
		return cfg, usageError("--listen: %v", err)
	}
	if a := c.String("advertise"); a != "" {
		if cfg.advertise, err = listenMultiaddr(a); err != nil {
			return cfg, usageError("--advertise: %v", err)
		}
	}
	if cfg.resources, err = parseResources(c.String("resources")); err != nil {
		return cfg, usageError("--resources: %v", err)
	}
	if cfg.labels, err = core.ParseLabels(c.String("labels")); err != nil {
		return cfg, usageError("--labels: %v", err)
	}
	if c.IsSet("actor-slots") {
		return cfg, usageError("--actor-slots was removed: every actor now runs on a worker process of its own, started on demand; bound them with --max-workers (a node with CPU=0 hosts only actors that ask for no CPU)")
	}
	if cfg.maxWorkers = c.Int("max-workers"); cfg.maxWorkers < 0 {
		return cfg, usageError("--max-workers %d: want 1 or more (or leave it out for the default)", cfg.maxWorkers)
	}
	if s := c.String("worker-memory-limit"); s != "" {
		if cfg.workerMemoryBytes, err = parseBytes(s); err != nil {
			return cfg, usageError("--worker-memory-limit: %v", err)
		}
	}
	cfg.noSharedMemory = c.Bool("no-shared-memory")
	if s := c.String("object-store-memory"); s != "" {
		if cfg.objectStoreBytes, err = parseBytes(s); err != nil {
			return cfg, usageError("--object-store-memory: %v", err)
		}
	}
	cfg.dataDir = c.String("data-dir")
	if cfg.dataDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return cfg, usageError("--data-dir is required: %v", err)
		}
		name := "node"
		if cfg.head {
			name = "head"
		}
		cfg.dataDir = filepath.Join(home, ".gray", name)
	}
	cfg.secretFile = c.String("secret-file")
	if cfg.secretFile == "" {
		cfg.secretFile = filepath.Join(cfg.dataDir, secretFileName)
		cfg.generateSecret = cfg.head
	}
	cfg.gcsAcceptLoss = c.Bool("gcs-accept-loss")
	cfg.binaryRetention = c.Duration("binary-retention")
	if cfg.nodeTimeout = c.Duration("node-timeout"); cfg.nodeTimeout < 0 {
		return cfg, usageError("--node-timeout %v: want a positive duration", cfg.nodeTimeout)
	}
	if cfg.head {
		cfg.dashboardListen = c.String("dashboard-listen")
		cfg.dashboardOptional = !c.IsSet("dashboard-listen")
		cfg.dashboardTokenFile = c.String("dashboard-token")
	}
	cfg.addressFile = c.String("address-file")
	if cfg.addressFile == "" {
		cfg.addressFile = filepath.Join(cfg.dataDir, "address")
	}
	return cfg, nil
}
