package linearizability

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteSummaryJSON writes v as indented JSON followed by a newline, for
// campaign summaries that CI keeps as artifacts. HTML characters are not
// escaped, so that messages stay readable.
func WriteSummaryJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("linearizability: write summary: %w", err)
	}
	return nil
}
