// Package libp2p is a stub standing in for the real module.
package libp2p

// New stands in for the host constructor.
func New() {}
