// Package core is a fixture: a default sans-IO package importing IO
// packages.
package core

import (
	crand "crypto/rand" // want `detlint: import "crypto/rand" reads the operating system's entropy; use env\.Rand\(\)`
	"io/ioutil"         // want `detlint: import "io/ioutil" touches the host file system`
	"net"               // want `detlint: import "net" does network IO; send messages with env\.Send`
	"os"                // want `detlint: import "os" touches the host operating system; use env\.FS\(\)`
	"os/exec"           // want `detlint: import "os/exec" touches the host operating system`
	"syscall"           // want `detlint: import "syscall" touches the host operating system`

	"github.com/libp2p/go-libp2p" // want `detlint: import "github.com/libp2p/go-libp2p" does network IO`
)

var (
	_ = crand.Reader
	_ = ioutil.Discard
	_ = net.ParseIP
	_ = os.Getpid
	_ = exec.Command
	_ = syscall.Getpid
	_ = libp2p.New
)
