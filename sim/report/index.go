package report

import (
	"html/template"
	"io"
)

// indexTemplate is the campaign report's index.html: self-contained (inline
// style, no scripts, no external assets), so that it opens from a CI
// artifact or a local folder alike.
var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{
	"oneLine": func(s string) string { return OneLine(s, 200) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gray sim {{.Workload}}: {{.Failed}} of {{.Seeds}} seeds failed</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.3 ui-monospace, monospace; }
td code { word-break: break-all; }
pre { white-space: pre-wrap; margin: 0; max-width: 60em; }
.fail { color: #b00; font-weight: bold; }
.pass { color: #070; font-weight: bold; }
tr.unreached td { background: #fff0f0; }
.note { color: #b00; }
details summary { cursor: pointer; }
</style>
</head>
<body>
<h1>gray sim: {{.Workload}} —
{{if .Failed}}<span class="fail">{{.Failed}} of {{.Seeds}} seeds failed</span>{{else}}<span class="pass">all {{.Seeds}} seeds passed</span>{{end}}</h1>

<table>
<tr><th>workload</th><td>{{.Workload}}</td></tr>
<tr><th>faults</th><td><code>{{.FaultSpec}}</code></td></tr>
<tr><th>seeds</th><td>{{.Seeds}} run of {{.Total}}: {{.Passed}} passed, {{.Failed}} failed{{if .OutOfTime}} (time budget spent){{end}}</td></tr>
<tr><th>events</th><td>{{.Events}} ({{printf "%.0f" .EventsPerSecond}} events/s)</td></tr>
<tr><th>simulated time</th><td>{{printf "%.1f" .SimSeconds}} s</td></tr>
<tr><th>wall time</th><td>{{printf "%.2f" .WallSeconds}} s{{if .BudgetSeconds}} (budget {{printf "%.0f" .BudgetSeconds}} s){{end}}</td></tr>
<tr><th>determinism</th><td>{{if .CheckDeterminism}}every seed ran twice{{else}}not checked (--check-determinism){{end}}</td></tr>
<tr><th>code version</th><td><code>{{.CodeVersion}}</code></td></tr>
<tr><th>command line</th><td><code>{{.CommandLine}}</code></td></tr>
<tr><th>files</th><td><a href="summary.json">summary.json</a> · <a href="junit.xml">junit.xml</a></td></tr>
</table>

<h2>Failing seeds</h2>
{{if .Failures}}
<p>Each seed's folder holds its replay command, its text trace (<code>trace.txt</code>) and its Chrome trace
(<code>trace.json</code>: open it in <a href="https://ui.perfetto.dev">ui.perfetto.dev</a> or chrome://tracing),
and what the run attached.</p>
<table>
<tr><th>seed</th><th>kind</th><th>reason</th><th>faults</th><th>replay</th><th>files</th></tr>
{{range .Failures}}
<tr>
<td class="num">{{.Seed}}</td>
<td class="fail">{{.Kind}}</td>
<td><details><summary>{{oneLine .Reason}}</summary><pre>{{.Reason}}</pre></details>{{if .Note}}<p class="note">{{.Note}}</p>{{end}}</td>
<td><code>{{.Faults}}</code></td>
<td><code>{{.Replay}}</code></td>
<td>{{$dir := .Dir}}{{range .Files}}<a href="{{$dir}}/{{.}}">{{.}}</a><br>{{end}}</td>
</tr>
{{end}}
</table>
{{if .FailuresOmitted}}<p>… and {{.FailuresOmitted}} more failing seeds, listed in <a href="summary.json">summary.json</a>.</p>{{end}}
{{else}}
<p>None.</p>
{{end}}

<h2>Coverage of declared paths</h2>
{{if .Coverage}}
<p>The paths the workload declares it should reach, with how often the campaign reached them.
A path never reached is a part of the system this campaign did not test.
{{if .NotReached}}<span class="fail">{{len .NotReached}} of {{len .Coverage}} not reached.</span>{{else}}<span class="pass">All {{len .Coverage}} reached.</span>{{end}}</p>
<table>
<tr><th>path</th><th>count</th></tr>
{{range .Coverage}}<tr{{if not .Count}} class="unreached"{{end}}><td>{{.Name}}</td><td class="num">{{if .Count}}{{.Count}}{{else}}<span class="fail">not reached</span>{{end}}</td></tr>
{{end}}
</table>
{{else}}
<p>The workload declares no paths (it does not implement <code>sim.PathDeclarer</code>).</p>
{{end}}

<h2>All sometimes counters</h2>
{{if .Sometimes}}
<table>
<tr><th>path</th><th>count</th></tr>
{{range .Sometimes}}<tr><td>{{.Name}}</td><td class="num">{{.Count}}</td></tr>
{{end}}
</table>
{{else}}
<p>None.</p>
{{end}}
</body>
</html>
`))

// indexFailuresMax bounds the rows of the failing-seeds table, so that a
// campaign failing thousands of seeds still gives a page a browser opens;
// summary.json lists them all.
const indexFailuresMax = 500

// indexData is what the template renders: the summary, with the failures
// cut to indexFailuresMax and the number left out.
type indexData struct {
	Summary
	FailuresOmitted int
}

// writeIndex writes the report's index.html for js.
func writeIndex(w io.Writer, js Summary) error {
	d := indexData{Summary: js}
	if n := len(js.Failures); n > indexFailuresMax {
		d.Failures, d.FailuresOmitted = js.Failures[:indexFailuresMax], n-indexFailuresMax
	}
	return indexTemplate.Execute(w, d)
}
