package net

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/pnet"
)

// KeyFileName is the file, in P2POptions.DataDir, that holds the host's
// Ed25519 private key (libp2p's protobuf encoding), so that its peer id is
// the same across restarts. It is created on first start with mode 0600
// and refused if anyone but its owner can read or write it.
const KeyFileName = "p2p-identity.key"

// SecretLenMin is the shortest cluster secret accepted, in bytes.
const SecretLenMin = 16

// pskDomain separates the PSK derivation from any other use of the
// cluster secret.
const pskDomain = "gray/net/p2p/pnet-psk/v1\x00"

// derivePSK turns a cluster secret into libp2p's 32-byte private-network
// key: SHA-256 of a domain-separation string and the secret.
func derivePSK(secret []byte) pnet.PSK {
	h := sha256.New()
	h.Write([]byte(pskDomain))
	h.Write(secret)
	return pnet.PSK(h.Sum(nil))
}

// loadIdentity returns the key stored in dir, creating it on first use.
// An empty dir gives a fresh key that lives as long as the process.
func loadIdentity(dir string) (crypto.PrivKey, error) {
	if dir == "" {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		return k, err
	}
	path := filepath.Join(dir, KeyFileName)
	k, err := readKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	return createKey(dir, path)
}

func readKey(path string) (crypto.PrivKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("net: key file %s has mode %v: others may read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("net: key file %s: %w (move it away to get a new peer id)", path, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("net: key file %s holds a %v key, want Ed25519", path, k.Type())
	}
	return k, nil
}

// createKey writes a new key atomically: a synced temporary file renamed
// into place, then the directory synced, so that a crash leaves either no
// key or a whole one.
func createKey(dir, path string) (crypto.PrivKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, KeyFileName+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails if another process created the key meanwhile; then
	// that key wins and is read back.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return readKey(path)
		}
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return nil, err
	}
	return k, nil
}
