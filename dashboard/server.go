package dashboard

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options configure a Server.
type Options struct {
	// Listen is the TCP address to serve on, e.g. 127.0.0.1:8265 (port 0
	// picks one). Required.
	Listen string
	// Token, when set, is required as "Authorization: Bearer TOKEN", as a
	// token query parameter (which sets a cookie for the UI) or as that
	// cookie.
	Token string
	// Source reads the head's components. Source.GCS is required.
	Source Source
	// ReadTimeout bounds each read of a component's loop; default 5s.
	ReadTimeout time.Duration
	// Logger receives the server's records; default slog.Default().
	Logger *slog.Logger
}

// Server is a running dashboard. Close stops it.
type Server struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

//go:embed ui
var uiFiles embed.FS

// tokenCookie names the cookie that carries Options.Token for the UI.
const tokenCookie = "gray_dashboard_token"

// Start listens on opts.Listen and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Source.GCS == nil {
		return nil, errors.New("dashboard: Options.Source.GCS is required")
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen on %s: %w", opts.Listen, err)
	}
	s := &Server{opts: opts, ln: ln, done: make(chan struct{})}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { // exits when Close shuts the server down
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("dashboard stopped", "err", err)
		}
	}()
	opts.Logger.Info("dashboard listening", "url", s.URL())
	return s, nil
}

// Addr returns the address the server listens on (with the chosen port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the UI's URL.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close stops the server, waiting up to 2s for requests in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Handler returns the dashboard's routes: the state API under /api/v0/,
// the job API under /api/jobs/ and /api/packages/, /metrics, and the UI
// at /. Requests that change state (POST, PUT, DELETE) from a browser
// page of another origin are refused: without a token, any page the
// user visits could otherwise stop or submit jobs on a loopback
// dashboard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	mux.Handle("GET /metrics", s.metricsHandler())
	ui, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui/
	}
	mux.Handle("GET /", http.FileServerFS(ui))
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, errors.New("dashboard: a request that changes state from another origin's page is refused"))
	}))
	return csrf.Handler(s.auth(mux))
}

// auth checks the token, if one is configured.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.opts.Token)
	eq := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if eq(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && eq("Bearer "+c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && eq("Bearer "+q) {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gray dashboard"`)
		http.Error(w, "unauthorized: send Authorization: Bearer TOKEN (the content of grayd's --dashboard-token file), or open the UI once with ?token=TOKEN", http.StatusUnauthorized)
	})
}
