//go:build invariants

package invariants

// Enabled reports whether this build checks invariants: true, since it
// was built with the invariants tag.
const Enabled = true
