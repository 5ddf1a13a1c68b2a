// Package worker is a fixture: a package under a default prefix is sans-IO
// too.
package worker

func spawn() {
	go spawn() // want `detlint: go statement`
}
