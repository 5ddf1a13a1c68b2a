package dashboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// newTestServer serves from an unstarted GCS server: enough for the
// routes that list nodes, actors and jobs (not tasks or metrics, whose
// tables Start creates; TestDashboard covers those).
func newTestServer(token string) *Server {
	g := gcs.NewServer(gcs.Config{})
	src := Source{GCS: func(f func(*gcs.Server)) error { f(g); return nil }}
	return &Server{opts: Options{Token: token, Source: src, ReadTimeout: 1e9}}
}

func TestToken(t *testing.T) {
	h := newTestServer("s3cret").Handler()
	for _, tc := range []struct {
		name   string
		target string
		header string
		cookie string
		want   int
	}{
		{"none", "/api/v0/nodes", "", "", http.StatusUnauthorized},
		{"wrong bearer", "/api/v0/nodes", "Bearer nope", "", http.StatusUnauthorized},
		{"bearer", "/api/v0/nodes", "Bearer s3cret", "", http.StatusOK},
		{"query", "/api/v0/nodes?token=s3cret", "", "", http.StatusOK},
		{"wrong query", "/?token=x", "", "", http.StatusUnauthorized},
		{"cookie", "/api/v0/actors", "", "s3cret", http.StatusOK},
		{"ui needs it too", "/", "", "", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", tc.target, nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: tokenCookie, Value: tc.cookie})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.target, rec.Code, tc.want)
		}
		if tc.name == "query" && len(rec.Result().Cookies()) != 1 {
			t.Errorf("query token set %d cookies, want 1", len(rec.Result().Cookies()))
		}
	}
}

func TestNoToken(t *testing.T) {
	h := newTestServer("").Handler()
	for _, target := range []string{"/", "/app.js", "/style.css", "/api/v0/nodes", "/api/v0/jobs"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", target, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v0/tasks?limit=0", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("GET /api/v0/tasks?limit=0 = %d, want 400", rec.Code)
	}
}

// TestNodeViewLabels: /api/v0/nodes shows a node's labels as Ray's state
// API does, under "labels".
func TestNodeViewLabels(t *testing.T) {
	b, err := json.Marshal(viewNode(gcs.NodeInfo{State: gcs.NodeAlive, Labels: core.Labels{{Key: "gpu", Value: "a100"}, {Key: "zone", Value: "b"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"labels":{"gpu":"a100","zone":"b"}`) {
		t.Errorf("node view %s lacks its labels", b)
	}
	b, _ = json.Marshal(viewNode(gcs.NodeInfo{State: gcs.NodeAlive}))
	if strings.Contains(string(b), "labels") {
		t.Errorf("node view of an unlabeled node %s lists labels", b)
	}
}
