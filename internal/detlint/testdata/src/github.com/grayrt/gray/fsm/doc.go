// Package fsm is a fixture: outside the default list, but sans-IO by its
// directive.
//
//gray:sansio
package fsm
