package net

import (
	"fmt"
	"os"
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

// DialHint names the likely cause of a failed Connect, as a phrase in
// parentheses to append to the error, or "" when nothing more is known.
func DialHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return " (nothing listens there: is grayd running, with that --listen port?)"
	case strings.Contains(msg, "negotiate security protocol"), strings.Contains(msg, "connection reset"):
		return " (the handshake failed: is the secret file a copy of the head's cluster secret?)"
	case strings.Contains(msg, "peer id mismatch"):
		return " (another grayd answers there: check the /p2p/ part of the address)"
	}
	return ""
}
