package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"
)

// serveCommand serves a campaign's --out folder over HTTP, so a report
// produced on a CI runner or a remote host can be browsed: index.html,
// each failing seed's porcupine page, traces and replay command.
func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "browse a campaign's report folder (written by sim run --out) over HTTP",
		ArgsUsage: "DIR",
		Description: "Serves DIR read-only on --listen (loopback by default) until interrupted. Open the\n" +
			"printed address: index.html lists the failing seeds with their reasons, replay commands,\n" +
			"porcupine visualizations, traces (load trace.json in Perfetto) and the coverage table.",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8265", Usage: "listen on `HOST:PORT`"},
		},
		Action: simServe,
	}
}

func simServe(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("gray sim serve takes one report folder, got %d arguments", c.NArg())
	}
	dir := c.Args().First()
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return cli.Exit(fmt.Sprintf("gray sim serve: %s has no index.html; write one with gray sim run --out %s", dir, dir), exitFailed)
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray sim serve: %v", err), exitFailed)
	}
	srv := &http.Server{Handler: reportHandler(dir), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(c.App.Writer, "serving %s at http://%s/ (Ctrl-C to stop)\n", dir, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return cli.Exit(fmt.Sprintf("gray sim serve: %v", err), exitFailed)
	case <-c.Context.Done():
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		return nil
	}
}

// reportHandler serves the folder read-only, without directory listings
// outside it (http.Dir rejects paths that escape the root).
func reportHandler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
