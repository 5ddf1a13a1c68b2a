// Package extra is a fixture: sans-IO only when named by the -packages flag.
package extra

func spawn() {
	go spawn() // want `detlint: go statement`
}
