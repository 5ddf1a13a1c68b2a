package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportHandlerServesTheFolderReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>campaign</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := reportHandler(dir)
	for _, tc := range []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/", 200, "campaign"},
		{"GET", "/index.html", 301, ""}, // FileServer redirects index.html to /
		{"GET", "/../../etc/passwd", 404, ""},
		{"POST", "/", 405, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.want, tc.body)
		}
	}
	if _, _, err := runApp(t, "sim", "serve", t.TempDir()); exitCode(err) != 1 {
		t.Errorf("serving a folder without index.html exited %d, want 1", exitCode(err))
	}
	if _, _, err := runApp(t, "sim", "serve"); exitCode(err) != 2 {
		t.Errorf("serve without a folder exited %d, want 2", exitCode(err))
	}
}
