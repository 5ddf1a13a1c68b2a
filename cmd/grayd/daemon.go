package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	gnet "github.com/grayrt/gray/net"
	"github.com/grayrt/gray/raylet"
)

// joinCheckTimeout bounds the up-front connection check of --join.
const joinCheckTimeout = 10 * time.Second

// daemonConfig is grayd's validated command line.
type daemonConfig struct {
	head             bool
	join             string // the GCS address, with --join
	listen           string // multiaddr
	advertise        string // multiaddr, or empty
	dataDir          string
	secretFile       string
	generateSecret   bool // create secretFile if it is missing
	addressFile      string
	resources        core.Resources
	objectStoreBytes int64 // 0: the raylet's default
}

// gcsAddress completes a GCS address given without its process name.
func gcsAddress(s string) core.Addr {
	if !strings.Contains(s, "#") {
		s += "#gcs"
	}
	return core.Addr(s)
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
		secret, err = readSecret(cfg.secretFile)
		if err != nil && !cfg.head {
			err = fmt.Errorf("%w (copy the head's secret file here or pass --secret-file)", err)
		}
	}
	if err != nil {
		return err
	}
	var joinAddr core.Addr
	if !cfg.head {
		joinAddr = gcsAddress(cfg.join) // checked by configFromFlags
	}

	tr, err := gnet.NewP2P(gnet.P2POptions{
		ListenAddrs:   []string{cfg.listen},
		AdvertiseAddr: cfg.advertise,
		ClusterSecret: secret,
		DataDir:       cfg.dataDir,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	// exited receives the first process that stops on its own; OnExit
	// must not block.
	exited := make(chan error, 1)
	h := gnet.NewHost(gnet.HostOptions{
		Transport: tr,
		DataDir:   cfg.dataDir,
		Logger:    log,
		OnExit: func(addr core.Addr, err error) {
			log.Error("process stopped; exiting for the supervisor to restart grayd", "proc", string(addr), "err", err)
			select {
			case exited <- fmt.Errorf("process %s stopped: %w", addr, err):
			default:
			}
		},
	})
	shutdown := func() {
		if err := h.Close(); err != nil {
			log.Warn("closing the host", "err", err)
		}
		if err := tr.Close(); err != nil {
			log.Warn("closing the transport", "err", err)
		}
	}

	gcsAddr := joinAddr
	if cfg.head {
		if gcsAddr, err = h.Add("gcs", gcs.NewServer(gcs.Config{})); err != nil {
			shutdown()
			return err
		}
	} else {
		cctx, cancel := context.WithTimeout(ctx, joinCheckTimeout)
		if err := tr.Connect(cctx, joinAddr); err != nil {
			// The raylet keeps retrying; the head may be starting.
			log.Error("cannot reach the GCS yet; retrying", "gcs", string(joinAddr), "err", err)
		}
		cancel()
	}
	rayletAddr, err := h.Add("raylet", raylet.New(raylet.Config{
		GCS:              gcsAddr,
		Resources:        cfg.resources,
		ObjectStoreBytes: cfg.objectStoreBytes,
	}))
	if err != nil {
		shutdown()
		return err
	}
	if err := writeFileAtomic(cfg.addressFile, []byte(string(gcsAddr)+"\n"), 0o644); err != nil {
		shutdown()
		return fmt.Errorf("address file: %w", err)
	}
	printed := gcsAddr
	if !cfg.head {
		printed = rayletAddr
	}
	fmt.Fprintln(stdout, printed)
	log.Info("grayd running", "head", cfg.head, "gcs", string(gcsAddr), "raylet", string(rayletAddr),
		"resources", cfg.resources.String(), "data_dir", cfg.dataDir, "address_file", cfg.addressFile)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
		shutdown()
		return nil
	case err := <-exited:
		shutdown()
		return err
	}
}
