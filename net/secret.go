package net

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadSecretFile reads a cluster secret file as every gray program does:
// its content without surrounding whitespace, refused if others may read
// it (like the identity key) or if it is shorter than SecretLenMin.
func ReadSecretFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("cluster secret %s is a directory: want the secret file itself (e.g. %s)", path, filepath.Join(path, "cluster-secret"))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster secret %s has mode %v: others may read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < SecretLenMin {
		return nil, fmt.Errorf("cluster secret %s holds %d bytes, want at least %d (e.g. openssl rand -hex 32 > %s)", path, len(b), SecretLenMin, path)
	}
	return b, nil
}

// DialHint names what to do about a failed Connect, as a phrase in
// parentheses to append to the error, or "" when nothing more is known.
// Connect's errors wrap their cause (ErrRefused, ErrSecretMismatch, ...);
// errors of other dials are matched by their text, most specific first.
func DialHint(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrWrongPeer), strings.Contains(msg, "peer id mismatch"):
		return " (another grayd answers there: check the /p2p/ part of the address)"
	case errors.Is(err, ErrRefused), strings.Contains(msg, "connection refused"):
		return " (nothing listens there: is grayd running, with that --listen port?)"
	case errors.Is(err, ErrHostUnreachable):
		return " (is the host up, and the port open in its firewall?)"
	case errors.Is(err, ErrSecretMismatch):
		return " (is the secret file a copy of the head's cluster secret?)"
	case errors.Is(err, ErrNoHandshake), errors.Is(err, ErrHandshakeTimeout):
		return " (is grayd stopped (SIGSTOP) or overloaded, or is another program listening on that port?)"
	case errors.Is(err, ErrHandshakeClosed):
		return " (did grayd stop or restart meanwhile, or is another program listening on that port?)"
	case errors.Is(err, ErrNotGray):
		return " (is another program listening on that port?)"
	}
	return ""
}
