// Package dashboard serves a cluster's state over HTTP from the head
// node: a JSON state API shaped like Ray's /api/v0 (nodes, actors, jobs,
// tasks, summaries), Ray's job REST API (/api/jobs/ and /api/packages/:
// submit, list, follow, stop and delete submitted jobs, stage their
// files), Prometheus metrics at /metrics, and a web UI (plain HTML, CSS
// and JavaScript embedded in the binary) that polls the API.
//
// The server reads the head's GCS and raylet on their own event loops
// through a Source (gray.StartNode builds one from net.Host.Do), so it
// never touches a component from another goroutine. Every read waits
// for at most Options.ReadTimeout for the loops to answer. What changes
// state (a submission, a stop, a staged chunk) is a GCS request made
// with a GCS client (Source.Call), so that it takes the GCS's request
// path, log and validation like the CLI's.
//
// Task data comes from the GCS's task table (task events), which lives in
// memory only and holds a bounded number of tasks; see docs/dashboard.md.
package dashboard
