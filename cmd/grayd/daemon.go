package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/grayrt/gray/gcs"
	"github.com/urfave/cli/v2"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	gnet "github.com/grayrt/gray/net"
)

// daemonConfig is grayd's validated command line.
type daemonConfig struct {
	head              bool
	join              string   // the GCS address, with --join
	gcsReplicas       []string // with --head: every GCS replica's address
	listen            string   // multiaddr
	advertise         string   // multiaddr, or empty
	dataDir           string
	secretFile        string
	generateSecret    bool // create secretFile if it is missing
	addressFile       string
	resources         core.Resources
	labels            core.Labels
	objectStoreBytes  int64 // 0: the raylet's default
	maxWorkers        int   // worker processes at most; 0 for the default
	workerMemoryBytes int64 // 0: no limit
	noSharedMemory    bool
	nodeTimeout       time.Duration // 0: the GCS's default
	binaryRetention   time.Duration // 0: the GCS's default
	gcsAcceptLoss     bool
	// The head's dashboard: its address ("" for none), whether it came
	// from the default (then a taken port is a warning, not an error),
	// and the file of its bearer token.
	dashboardListen    string
	dashboardOptional  bool
	dashboardTokenFile string
}

// runDaemon runs the head or a joined node until ctx ends (a clean
// shutdown, nil) or one of its processes stops on its own (an error, so
// that the supervisor restarts the daemon).
func runDaemon(ctx context.Context, cfg daemonConfig, stdout, stderr io.Writer, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	lock, lockErr := lockDataDir(cfg.dataDir)
	if lockErr != nil {
		return lockErr
	}
	if lock != nil {
		defer lock.Close() // after the host and transport are closed
	}
	var secret []byte
	var err error
	if cfg.generateSecret {
		var created bool
		secret, created, err = ensureSecret(cfg.secretFile)
		if created {
			fmt.Fprintf(stderr, "grayd: created the cluster secret %s; copy it (mode 0600) to every host that joins or runs gray commands\n", cfg.secretFile)
		}
	} else {
		secret, err = gnet.ReadSecretFile(cfg.secretFile)
		if err != nil && !cfg.head {
			err = fmt.Errorf("%w (copy the head's secret file here or pass --secret-file)", err)
		}
	}
	if err != nil {
		// A configuration error: restarting does not help (exit 2).
		return cli.Exit("grayd: cluster secret: "+err.Error(), exitUsage)
	}
	// CPU always: parseResources filled in the default, and CPU=0 (a
	// head that runs no tasks) must stay 0.
	res := map[string]float64{core.CPU: float64(cfg.resources.Get(core.CPU)) / core.QuantityScale}
	for _, r := range cfg.resources {
		res[r.Name] = float64(r.Amount) / core.QuantityScale
	}
	dashListen, dashToken, err := dashboardOptions(cfg, log)
	if err != nil {
		return err
	}
	node, err := gray.StartNode(ctx, gray.NodeOptions{
		Head: cfg.head, Join: cfg.join, GCSReplicas: cfg.gcsReplicas, Listen: cfg.listen, Advertise: cfg.advertise,
		DataDir: cfg.dataDir, ClusterSecret: secret, Resources: res, Labels: cfg.labels.Map(), MaxWorkers: cfg.maxWorkers,
		ObjectStoreBytes: cfg.objectStoreBytes, WorkerMemoryBytes: cfg.workerMemoryBytes, NoSharedMemory: cfg.noSharedMemory, Logger: log,
		DashboardListen: dashListen, DashboardToken: dashToken, DashboardOptional: cfg.dashboardOptional, NodeTimeout: cfg.nodeTimeout, GCSAcceptLoss: cfg.gcsAcceptLoss, BinaryRetention: cfg.binaryRetention,
	})
	if errors.Is(err, gray.ErrGCSReplicas) {
		return cli.Exit("grayd: --gcs-replicas: "+err.Error(), exitUsage)
	}
	if err != nil {
		return err
	}
	if err := writeFileAtomic(cfg.addressFile, []byte(node.GCSAddress()+"\n"), 0o644); err != nil {
		node.Close()
		return fmt.Errorf("address file: %w", err)
	}
	printed := node.GCSAddress()
	if !cfg.head {
		printed = node.Address()
	}
	fmt.Fprintln(stdout, printed)
	log.Info("grayd running", "head", cfg.head, "gcs", node.GCSAddress(), "raylet", node.Address(),
		"dashboard", node.DashboardURL(), "resources", cfg.resources.String(), "labels", cfg.labels.String(), "max_workers", cfg.maxWorkers, "data_dir", cfg.dataDir, "address_file", cfg.addressFile)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
		if err := node.Close(); err != nil {
			log.Warn("closing the node", "err", err)
		}
		return nil
	case err := <-node.Failed():
		node.Close()
		var se *gcs.StorageError
		if errors.As(err, &se) {
			// One line says it all; a restart cannot help (exit status 3).
			return se
		}
		log.Error("a node process stopped; exiting for the supervisor to restart grayd", "err", err)
		return err
	}
}
