package linearizability

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWriteSummaryJSON(t *testing.T) {
	res := Result{Outcome: Illegal, Ops: 3, Duration: 2 * time.Millisecond}
	var buf bytes.Buffer
	if err := WriteSummaryJSON(&buf, map[string]any{"check": res, "note": "a<b"}); err != nil {
		t.Fatalf("WriteSummaryJSON(...) = %v, want nil", err)
	}
	out := buf.String()
	want := `{
  "check": {
    "outcome": "illegal",
    "ops": 3,
    "duration_ns": 2000000
  },
  "note": "a<b"
}
`
	if out != want {
		t.Errorf("WriteSummaryJSON(...) =\n%s\nwant\n%s", out, want)
	}
	if !json.Valid(buf.Bytes()) {
		t.Errorf("WriteSummaryJSON(...) wrote invalid JSON:\n%s", out)
	}
}

func TestWriteSummaryJSONError(t *testing.T) {
	err := WriteSummaryJSON(&bytes.Buffer{}, func() {})
	if err == nil || !strings.HasPrefix(err.Error(), "linearizability: ") {
		t.Errorf("WriteSummaryJSON(func) = %v, want a linearizability: error", err)
	}
}
