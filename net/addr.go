package net

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// P2PAddr is the parsed form of a process address on the libp2p
// transport:
//
//	<multiaddr>/p2p/<peer id>#<process name>
//
// for example
//
//	/ip4/10.0.0.5/tcp/6380/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA#gcs
//
// The part before '#' is the libp2p address of the peer (one grayd),
// which Send dials; it may be just /p2p/<peer id> when the peer is
// reached through a connection that already exists. The part after '#'
// names one process of that peer (ValidName), so several processes share
// one libp2p host. '#' never occurs in a multiaddr's text form, and the
// last '#' is the separator.
type P2PAddr struct {
	// Host is the peer's address as written, ending in /p2p/<peer id>.
	Host string
	// Peer is the peer id, which Noise authenticates on every connection.
	Peer peer.ID
	// Process names the process on that peer.
	Process string
	// maddr is Host parsed, without the /p2p part (nil if Host is only
	// /p2p/<id>).
	maddr ma.Multiaddr
}

// ParseP2PAddr parses a process address of the libp2p transport. Errors
// wrap ErrBadAddr.
func ParseP2PAddr(a core.Addr) (P2PAddr, error) {
	s := string(a)
	i := strings.LastIndexByte(s, '#')
	if i < 0 {
		return P2PAddr{}, fmt.Errorf("%w %q: want <multiaddr>/p2p/<peer id>#<process>", ErrBadAddr, s)
	}
	host, name := s[:i], s[i+1:]
	if err := ValidName(name); err != nil {
		return P2PAddr{}, fmt.Errorf("%w %q: %v", ErrBadAddr, s, err)
	}
	m, err := ma.NewMultiaddr(host)
	if err != nil {
		return P2PAddr{}, fmt.Errorf("%w %q: %v", ErrBadAddr, s, err)
	}
	transport, id := peer.SplitAddr(m)
	if id == "" {
		return P2PAddr{}, fmt.Errorf("%w %q: the multiaddr does not end in /p2p/<peer id>", ErrBadAddr, s)
	}
	if len(transport) == 0 {
		transport = nil
	}
	return P2PAddr{Host: host, Peer: id, Process: name, maddr: transport}, nil
}

// Addr returns the address in its text form.
func (a P2PAddr) Addr() core.Addr { return core.Addr(a.Host + "#" + a.Process) }

// TCPMultiaddr accepts a multiaddr or IP:PORT (an IP literal, as
// grayd --listen takes) and returns the multiaddr's text form.
func TCPMultiaddr(s string) (string, error) {
	if strings.HasPrefix(s, "/") {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrBadAddr, s, err)
		}
		return s, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", fmt.Errorf("%w %q: want a multiaddr (/ip4/10.0.0.5/tcp/6380) or IP:PORT (10.0.0.5:6380)", ErrBadAddr, s)
	}
	proto := "ip4"
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		proto = "ip6"
	}
	return fmt.Sprintf("/%s/%s/tcp/%d", proto, ap.Addr().Unmap(), ap.Port()), nil
}
