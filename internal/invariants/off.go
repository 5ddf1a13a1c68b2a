//go:build !invariants

package invariants

// Enabled reports whether this build checks invariants: false, since it
// was built without the invariants tag (see the package documentation).
const Enabled = false
