package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	gnet "github.com/grayrt/gray/net"
	"github.com/urfave/cli/v2"
)

// addressCommand is `grayd address`: the GCS address a head will have,
// for the --gcs-replicas list of a replicated GCS. It creates the node's
// identity key in the data directory if it is missing, as grayd would,
// and listens on the address a moment to learn what it advertises.
func addressCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "address",
		Usage:     "print the GCS address a head started with the same --data-dir, --listen and --advertise will have",
		UsageText: "grayd address --data-dir DIR --listen IP:PORT [--advertise IP:PORT]",
		Description: "A replicated GCS's heads list each other's addresses (--gcs-replicas); an address names the head's\n" +
			"identity key (created here if missing) and needs a fixed port. Run this on each head, then start every head\n" +
			"with the same list.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "the head's data directory `DIR`", DefaultText: "~/.gray/head"},
			&cli.StringFlag{Name: "listen", Required: true, Usage: "the fixed `ADDR` (multiaddr or IP:PORT) the head will listen on"},
			&cli.StringFlag{Name: "advertise", Usage: "the `ADDR` other hosts reach the head at, if not the listen address"},
		},
		Action: func(c *cli.Context) error {
			listen, err := listenMultiaddr(c.String("listen"))
			if err != nil {
				return usageError("--listen: %v", err)
			}
			var advertise string
			if a := c.String("advertise"); a != "" {
				if advertise, err = listenMultiaddr(a); err != nil {
					return usageError("--advertise: %v", err)
				}
			}
			dir := c.String("data-dir")
			if dir == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return usageError("--data-dir is required: %v", err)
				}
				dir = filepath.Join(home, ".gray", "head")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return cli.Exit(err.Error(), exitFailed)
			}
			// No peer is dialed: any secret does to start the transport.
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			tr, err := gnet.NewP2P(gnet.P2POptions{ListenAddrs: []string{listen}, AdvertiseAddr: advertise, ClusterSecret: secret, DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return cli.Exit(fmt.Sprintf("grayd address: %v", err), exitFailed)
			}
			addr := tr.Addr("gcs")
			_ = tr.Close()
			fmt.Fprintln(stdout, string(addr))
			return nil
		},
	}
}
