package linearizability

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// The JUnit XML schema as CI readers parse it, declared independently of
// the writer's structs so that a mismatch between them shows.
type (
	parsedSuites struct {
		XMLName  xml.Name      `xml:"testsuites"`
		Name     string        `xml:"name,attr"`
		Tests    int           `xml:"tests,attr"`
		Failures int           `xml:"failures,attr"`
		Errors   int           `xml:"errors,attr"`
		Time     string        `xml:"time,attr"`
		Suites   []parsedSuite `xml:"testsuite"`
	}
	parsedSuite struct {
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Cases    []parsedCase `xml:"testcase"`
	}
	parsedCase struct {
		Name      string         `xml:"name,attr"`
		Classname string         `xml:"classname,attr"`
		Time      string         `xml:"time,attr"`
		Failure   *parsedFailure `xml:"failure"`
		SystemOut string         `xml:"system-out"`
	}
	parsedFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Details string `xml:",chardata"`
	}
)

func TestWriteJUnit(t *testing.T) {
	tricky := "a<b & c>\"d\" 'e' ]]> \u00e9\nline two"
	tests := []struct {
		name         string
		cases        []TestCase
		wantFailures int
		wantTime     string
	}{
		{"no cases", nil, 0, "0.000"},
		{"all pass", []TestCase{
			{Name: "seed=1", Classname: "gcs.kv", Time: 1500 * time.Millisecond},
			{Name: "seed=2", Classname: "gcs.kv", Time: 2 * time.Millisecond},
		}, 0, "1.502"},
		{"two failures", []TestCase{
			{Name: "seed=1", Classname: "gcs.kv", Time: time.Second},
			{Name: "seed=2", Classname: "gcs.kv", Time: 1234567 * time.Microsecond, Failure: &Failure{Kind: "linearizability", Message: "history is not linearizable", Details: tricky}, SystemOut: "replay: go run ./cmd/gray sim replay --seed 2"},
			{Name: tricky, Classname: tricky, Failure: &Failure{Kind: tricky, Message: tricky, Details: "x\x00y\x1bz"}, SystemOut: tricky},
			{Name: "negative time", Classname: "gcs.kv", Time: -time.Second},
		}, 2, "2.235"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, "campaign <kv>", tt.cases); err != nil {
				t.Fatalf("WriteJUnit(...) = %v, want nil", err)
			}
			out := buf.String()
			if !strings.HasPrefix(out, xml.Header) {
				t.Errorf("WriteJUnit(...) starts with %.40q, want the XML header", out)
			}
			var got parsedSuites
			if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("xml.Unmarshal(WriteJUnit(...)) = %v, want nil; output:\n%s", err, out)
			}
			if got.Tests != len(tt.cases) || got.Failures != tt.wantFailures || got.Errors != 0 || got.Time != tt.wantTime {
				t.Errorf("testsuites tests=%d failures=%d errors=%d time=%s, want %d %d 0 %s", got.Tests, got.Failures, got.Errors, got.Time, len(tt.cases), tt.wantFailures, tt.wantTime)
			}
			if len(got.Suites) != 1 {
				t.Fatalf("WriteJUnit(...) wrote %d test suites, want 1", len(got.Suites))
			}
			s := got.Suites[0]
			if s.Name != "campaign <kv>" || s.Tests != len(tt.cases) || s.Failures != tt.wantFailures || s.Errors != 0 || s.Skipped != 0 || s.Time != tt.wantTime {
				t.Errorf("testsuite %+v, want name %q, tests %d, failures %d, errors 0, skipped 0, time %s", s, "campaign <kv>", len(tt.cases), tt.wantFailures, tt.wantTime)
			}
			if len(s.Cases) != len(tt.cases) {
				t.Fatalf("testsuite has %d test cases, want %d", len(s.Cases), len(tt.cases))
			}
			failures := 0
			for i, c := range s.Cases {
				want := tt.cases[i]
				if c.Name != want.Name || c.Classname != want.Classname || c.SystemOut != want.SystemOut {
					t.Errorf("testcase %d = %+v, want %+v", i, c, want)
				}
				if wantTime := junitSeconds(want.Time); c.Time != wantTime {
					t.Errorf("testcase %d time = %s, want %s", i, c.Time, wantTime)
				}
				if (c.Failure != nil) != (want.Failure != nil) {
					t.Errorf("testcase %d failure = %+v, want %+v", i, c.Failure, want.Failure)
					continue
				}
				if c.Failure == nil {
					continue
				}
				failures++
				wantDetails := strings.Map(func(r rune) rune {
					if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
						return '\uFFFD'
					}
					return r
				}, want.Failure.Details)
				if c.Failure.Type != want.Failure.Kind || c.Failure.Message != want.Failure.Message || c.Failure.Details != wantDetails {
					t.Errorf("testcase %d failure = %+v, want type %q message %q details %q", i, c.Failure, want.Failure.Kind, want.Failure.Message, wantDetails)
				}
			}
			if failures != tt.wantFailures {
				t.Errorf("parsed %d <failure> elements, want %d", failures, tt.wantFailures)
			}
		})
	}
}

func TestJUnitSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000"},
		{time.Millisecond, "0.001"},
		{1499 * time.Microsecond, "0.001"},
		{90 * time.Second, "90.000"},
		{-time.Second, "0.000"},
	}
	for _, tt := range tests {
		if got := junitSeconds(tt.d); got != tt.want {
			t.Errorf("junitSeconds(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
