// Package clustertest holds the multi-process tests of gray: built
// binaries (stock grayd and the user program in ./app, which is both a
// node and a driver) on loopback over libp2p, with kill -9 of nodes and
// of the head. It has no non-test code besides this comment; the tests
// build ./app and ../../cmd/grayd with the go tool.
package clustertest
