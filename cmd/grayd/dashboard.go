package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// defaultDashboardListen is where a head serves its dashboard by default:
// loopback only, Ray's dashboard port.
const defaultDashboardListen = "127.0.0.1:8265"

// dashboardOptions returns the head's dashboard address and token. With
// the default address, a port another program (or another head on this
// host) holds is not fatal: the head runs without a dashboard.
func dashboardOptions(cfg daemonConfig, log *slog.Logger) (listen, token string, err error) {
	if !cfg.head || cfg.dashboardListen == "" {
		return "", "", nil
	}
	if cfg.dashboardTokenFile != "" {
		b, err := os.ReadFile(cfg.dashboardTokenFile)
		if err != nil {
			return "", "", fmt.Errorf("--dashboard-token: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return "", "", errors.New("--dashboard-token: the file is empty; put the token in it")
		}
	}
	if cfg.dashboardOptional {
		ln, err := net.Listen("tcp", cfg.dashboardListen)
		if err != nil {
			log.Warn("running without a dashboard: its default address is taken; pass --dashboard-listen HOST:PORT", "addr", cfg.dashboardListen, "err", err)
			return "", "", nil
		}
		// StartNode listens again (NodeOptions.DashboardOptional): a
		// head that takes the port meanwhile leaves this one without a
		// dashboard, not without a start.
		ln.Close()
	}
	return cfg.dashboardListen, token, nil
}
