package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// NotAvailable is the JSON value of a case gray cannot run: never a zero,
// which would read as a measurement.
const NotAvailable = "not available"

// perfMetric is one entry of the perf_metrics list of Ray's
// microbenchmark.json.
type perfMetric struct {
	Name  string  `json:"perf_metric_name"`
	Type  string  `json:"perf_metric_type"`
	Value float64 `json:"perf_metric_value"`
}

// grayExtra is the "gray" key of the JSON: everything Ray's shape has no
// place for.
type grayExtra struct {
	*Report
	RaySource string `json:"ray_source"`
}

// JSON returns the report in the shape of Ray's microbenchmark.json: each
// case's name maps to [mean, std] (ops/s, or GB/s for gigabyte cases),
// and perf_metrics lists the means as THROUGHPUT metrics. A case gray
// cannot run maps to "not available", a failed one to "error: ...";
// neither is in perf_metrics. The key "gray" holds the whole report:
// limits, ratios, notes, simulator figures and the machine.
func (r *Report) JSON() ([]byte, error) {
	out := map[string]any{}
	metrics := []perfMetric{}
	for _, c := range r.Cases {
		switch {
		case c.Unavailable != "":
			out[c.Name] = NotAvailable
		case c.Err != "":
			out[c.Name] = "error: " + c.Err
		default:
			out[c.Name] = [2]float64{c.Mean, c.Std}
			metrics = append(metrics, perfMetric{Name: c.Name, Type: "THROUGHPUT", Value: c.Mean})
		}
	}
	out["perf_metrics"] = metrics
	out["gray"] = grayExtra{Report: r, RaySource: RaySource}
	return json.MarshalIndent(out, "", "    ")
}

// WriteJSON writes JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := r.JSON()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the report as Markdown tables: the cases with their
// ratio to their limit's best round and to Ray's published figure, every
// measurement of the limits, the GCS write figures and the simulator
// figures.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "gray bench, setting %s, %d CPUs (%s), %s, %s\n\n", r.Setting, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Timing)
	fmt.Fprintln(w, "| case | gray (mean ± std) | ratio to the best round of its limit | Ray published | gray / Ray |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	for _, c := range r.Cases {
		ray, vs := "not found", ""
		if c.Ray > 0 {
			ray = fmt.Sprintf("%s %s", sig(c.Ray), c.Unit)
		}
		ratio := ""
		switch {
		case c.Unavailable != "":
			fmt.Fprintf(w, "| %s | %s (%s) | | %s | |\n", c.Name, NotAvailable, c.Unavailable, ray)
			continue
		case c.Err != "":
			fmt.Fprintf(w, "| %s | error: %s | | %s | |\n", c.Name, c.Err, ray)
			continue
		}
		if c.Ratio > 0 {
			ratio = ratioText(c)
		}
		if c.Ray > 0 {
			vs = fmt.Sprintf("%.2f×", c.Mean/c.Ray)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Name, formatFigure(c.Mean, c.Std, c.Unit, ""), ratio, ray, vs)
	}
	r.writeGroupScaling(w)
	fmt.Fprintln(w)
	r.writeLimits(w)
	r.writeGCSWrites(w)
	if len(r.Sim) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| simulator workload | events/s | simulated / wall | seeds/min | seeds (failed) |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
		for _, f := range r.Sim {
			if f.Err != "" {
				fmt.Fprintf(w, "| %s | error: %s | | | |\n", f.Workload, f.Err)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %.1f× | %s | %d (%d) |\n", f.Workload, sig(f.EventsPerSecond), f.SimToWall, sig(f.SeedsPerMinute), f.Seeds, f.Failed)
		}
	}
	fmt.Fprintf(w, "\nRay's figures: %s\n", RaySource)
}

func caseFigure(c CaseResult) string {
	switch {
	case c.Unavailable != "":
		return NotAvailable + ": " + c.Unavailable
	case c.Err != "":
		return "error: " + c.Err
	}
	s := formatFigure(c.Mean, c.Std, c.Unit, "")
	if c.Ratio > 0 {
		s += ", " + ratioText(c)
	}
	if c.Ray > 0 {
		s += fmt.Sprintf(", %.2f× Ray", c.Mean/c.Ray)
	}
	return s
}

// ratioText is a case's ratio with the limit's best round it divides by.
func ratioText(c CaseResult) string {
	return fmt.Sprintf("%s of %s (best %s)", percent(c.Ratio), c.Limit, sig(c.LimitBest))
}

// writeLimits prints every measurement of every limit, and each limit's
// rounds over the run when it was measured more than once.
func (r *Report) writeLimits(w io.Writer) {
	fmt.Fprintf(w, "Limits (%s; a limit that bounds no case is measured once, at the start). "+
		"A case's ratio divides by the best round of its limit's measurement right before it.\n\n", r.LimitTiming)
	fmt.Fprintln(w, "| limit | measured | best | median | mean ± std | rounds | what |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, l := range r.Limits {
		what := l.What
		for _, m := range l.Measurements {
			where := "at the start"
			if m.Before != "" {
				where = "before " + m.Before
			}
			if m.Err != "" {
				fmt.Fprintf(w, "| %s | %s | error: %s | | | | %s |\n", l.Name, where, m.Err, what)
			} else {
				s := summarize(m.Rates)
				fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s ± %s | %d | %s |\n", l.Name, where, sig(s.Best), l.Unit, sig(s.Median), sig(s.Mean), sig(s.Std), s.Rounds, what)
			}
			what = ""
		}
		if len(l.Measurements) > 1 && l.Rounds > 0 {
			fmt.Fprintf(w, "| %s | all %d measurements | %s %s | %s | %s ± %s | %d | |\n", l.Name, len(l.Measurements), sig(l.Best), l.Unit, sig(l.Median), sig(l.Mean), sig(l.Std), l.Rounds)
		}
	}
}

func formatFigure(mean, std float64, unit, err string) string {
	if err != "" {
		return "error: " + err
	}
	return fmt.Sprintf("%s ± %s %s", sig(mean), sig(std), unit)
}

// sig formats x with three significant digits, without exponents for
// the magnitudes of these figures.
func sig(x float64) string {
	switch {
	case x >= 1000:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case x >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}

func percent(r float64) string {
	return sig(100*r) + "%"
}

// writeGroupScaling prints the creation time of one placement group by
// its bundles (gray's placement_group_create_bundles_N cases) and how
// that of the largest compares with one bundle's, when both ran.
func (r *Report) writeGroupScaling(w io.Writer) {
	var parts []string
	var first, last float64
	for _, c := range r.Cases {
		n, ok := strings.CutPrefix(c.Name, groupCasePrefix)
		if !ok || c.Err != "" || c.Mean <= 0 {
			continue
		}
		ms := 1000 / c.Mean
		parts = append(parts, fmt.Sprintf("%s bundles %s ms", n, sig(ms)))
		if first == 0 {
			first = ms
		}
		last = ms
	}
	if len(parts) < 2 {
		return
	}
	fmt.Fprintf(w, "\nA placement group's creation and removal, by its bundles: %s; the last is %.2f× the first (goal: at most 2×).\n",
		strings.Join(parts, ", "), last/first)
}

// writeGCSWrites prints the GCS write figures, single and replicated,
// and the ratio of their means.
func (r *Report) writeGCSWrites(w io.Writer) {
	g := r.GCSWrites
	if g == nil {
		return
	}
	fsync := ""
	if g.FsyncMs > 0 {
		fsync = fmt.Sprintf("; a %d-byte overwrite and fsync of a file there takes %s ms (median %s ms)", g.ValueBytes, sig(g.FsyncMs), sig(g.FsyncP50Ms))
	}
	fmt.Fprintf(w, "\nGCS writes: sequential KVPuts of %d bytes (overwrite), one in flight, over the %s transport (each process on its own loop), data under %s%s.\n\n",
		g.ValueBytes, g.Transport, g.Dir, fsync)
	fmt.Fprintln(w, "| GCS | puts/s | mean | p50 | p99 | puts | notes |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, f := range []GCSWriteFigure{g.Single, g.Replicated} {
		if f.Err != "" {
			fmt.Fprintf(w, "| %s | error: %s | | | | | |\n", f.Config, f.Err)
			continue
		}
		var notes []string
		if f.CommitMs > 0 {
			notes = append(notes, fmt.Sprintf("leader's commit (propose to commit) %s ms", sig(f.CommitMs)))
		}
		if f.ServeSeconds > 0 {
			notes = append(notes, fmt.Sprintf("served after %s s", sig(f.ServeSeconds)))
		}
		fmt.Fprintf(w, "| %s | %s | %s ms | %s ms | %s ms | %d | %s |\n", f.Config, sig(f.PutsPerSecond), sig(f.MeanMs), sig(f.P50Ms), sig(f.P99Ms), f.Puts, strings.Join(notes, "; "))
	}
	if g.Ratio > 0 {
		fmt.Fprintf(w, "\nReplicated / single mean latency: %.2f×.\n", g.Ratio)
	}
}

// gcsWriteText is one GCS write figure on a line.
func gcsWriteText(f GCSWriteFigure) string {
	if f.Err != "" {
		return "error: " + f.Err
	}
	return fmt.Sprintf("%s puts/s, mean %s ms, p50 %s ms, p99 %s ms (%d puts)", sig(f.PutsPerSecond), sig(f.MeanMs), sig(f.P50Ms), sig(f.P99Ms), f.Puts)
}
