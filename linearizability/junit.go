package linearizability

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"time"
)

// TestCase is one test case of a JUnit report, e.g. one seed of a campaign.
type TestCase struct {
	// Name names the case, e.g. "seed=42".
	Name string
	// Classname groups cases in CI views, e.g. "gcs.kv".
	Classname string
	// Time is how long the case took.
	Time time.Duration
	// Failure is nil if the case passed.
	Failure *Failure
	// SystemOut is free text shown with the case, e.g. the replay command.
	SystemOut string
}

// Failure describes why a test case failed.
type Failure struct {
	// Kind classifies the failure, e.g. "linearizability" or "liveness";
	// it becomes the failure's type attribute.
	Kind string
	// Message is a one-line summary; it becomes the message attribute.
	Message string
	// Details is free text, e.g. a stack or the replay command; it becomes
	// the failure element's text.
	Details string
}

// The JUnit XML schema as read by Jenkins, GitLab and GitHub reporters.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Details string `xml:",chardata"`
	}
)

// WriteJUnit writes cases as a JUnit XML report with one test suite named
// suite. Every failure counts in the failures attribute; errors and skipped
// are always 0. Times are in seconds with three decimals. The report has no
// timestamp, so that the same cases always give the same bytes. Text is
// XML-escaped; characters that XML cannot carry become U+FFFD.
func WriteJUnit(w io.Writer, suite string, cases []TestCase) error {
	s := junitSuite{Name: suite, Tests: len(cases), Cases: make([]junitCase, len(cases))}
	var total time.Duration
	for i, c := range cases {
		jc := junitCase{Name: c.Name, Classname: c.Classname, Time: junitSeconds(c.Time), SystemOut: c.SystemOut}
		if c.Failure != nil {
			s.Failures++
			jc.Failure = &junitFailure{Message: c.Failure.Message, Type: c.Failure.Kind, Details: c.Failure.Details}
		}
		total += max(c.Time, 0)
		s.Cases[i] = jc
	}
	s.Time = junitSeconds(total)
	doc := junitSuites{Name: suite, Tests: s.Tests, Failures: s.Failures, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("linearizability: write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("linearizability: write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("linearizability: write junit: %w", err)
	}
	return nil
}

// junitSeconds formats d in seconds with three decimals; negative
// durations count as 0.
func junitSeconds(d time.Duration) string {
	return strconv.FormatFloat(max(d, 0).Seconds(), 'f', 3, 64)
}
