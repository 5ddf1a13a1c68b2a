package detlint

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// DefaultPackages is the default value of the -packages flag: the import
// path prefixes of gray's sans-IO packages, comma-separated.
const DefaultPackages = "github.com/grayrt/gray/core," +
	"github.com/grayrt/gray/gcs," +
	"github.com/grayrt/gray/raylet," +
	"github.com/grayrt/gray/plasma," +
	"github.com/grayrt/gray/internal/process"

// Analyzer reports goroutines, channels, locks, wall-clock reads, global
// randomness, host IO and unmarked map iteration in gray's sans-IO packages.
// The package documentation lists the rules.
var Analyzer = &analysis.Analyzer{
	Name: "detlint",
	Doc: "report nondeterminism and IO in gray's sans-IO packages\n\n" +
		"Sans-IO packages (see -packages and the //gray:sansio package directive) " +
		"must not start goroutines, use channels, sync or sync/atomic, read the wall " +
		"clock, draw from the global random source, import os, net, syscall or " +
		"crypto/rand, or range over a map without a //gray:unordered <reason> marker. " +
		"They reach the world only through the injected core.Env.",
	Run: run,
}

// packagesFlag holds the -packages flag. It is written only while flags are
// parsed, before any pass runs.
var packagesFlag = DefaultPackages

func init() {
	Analyzer.Flags.StringVar(&packagesFlag, "packages", DefaultPackages,
		"comma-separated import path prefixes of sans-IO packages; "+
			"a prefix matches the path itself and every path under it")
}

// testdataPrefix holds this package's analysistest fixtures. Some of them
// carry //gray:sansio and violate every rule on purpose, so they are never
// checked where they lie in the module.
const testdataPrefix = "github.com/grayrt/gray/internal/detlint/testdata"

// Directives recognized in comments.
const (
	sansIODirective    = "//gray:sansio"
	unorderedDirective = "//gray:unordered"
)

// chanAdvice ends every channel diagnostic.
const chanAdvice = "sans-IO code runs on a single event loop: call the code directly, " +
	"or exchange messages with env.Send and env.Go"

// timeFuncs maps the functions of package time that read or wait on the wall
// clock to what their diagnostic says. Everything else in package time
// (Duration, Time, Unix, ...) is pure and allowed.
var timeFuncs = map[string]string{
	"Now":       "reads the wall clock; use env.Now() from the injected core.Env",
	"Since":     "reads the wall clock; subtract from env.Now() of the injected core.Env",
	"Until":     "reads the wall clock; subtract env.Now() of the injected core.Env",
	"Sleep":     "blocks on the wall clock; continue the work from a callback of env.AfterFunc",
	"After":     "starts a wall-clock timer; use env.AfterFunc from the injected core.Env",
	"Tick":      "starts a wall-clock ticker; re-arm env.AfterFunc from the injected core.Env",
	"NewTimer":  "starts a wall-clock timer; use env.AfterFunc from the injected core.Env",
	"NewTicker": "starts a wall-clock ticker; re-arm env.AfterFunc from the injected core.Env",
	"AfterFunc": "starts a wall-clock timer; use env.AfterFunc from the injected core.Env",
}

// randConstructors are the top-level functions of math/rand and
// math/rand/v2 that build a generator instead of drawing from the global
// source. Every other top-level function there uses the global source.
var randConstructors = map[string]bool{
	"New":        true,
	"NewSource":  true,
	"NewPCG":     true,
	"NewChaCha8": true,
	"NewZipf":    true,
}

// bannedImports lists import path prefixes that give a package IO of its
// own, with what to use instead. A prefix matches the path itself and every
// path under it, so "os" covers os/exec and os/signal.
var bannedImports = []struct{ prefix, why string }{
	{"crypto/rand", "reads the operating system's entropy; use env.Rand() from the injected core.Env"},
	{"os", "touches the host operating system; use env.FS() and the rest of the injected core.Env"},
	{"syscall", "touches the host operating system; use env.FS() and the rest of the injected core.Env"},
	{"io/ioutil", "touches the host file system; use env.FS() from the injected core.Env"},
	{"net", "does network IO; send messages with env.Send from the injected core.Env"},
	{"github.com/libp2p", "does network IO; send messages with env.Send from the injected core.Env"},
	{"github.com/multiformats", "belongs to the network transport; send messages with env.Send from the injected core.Env"},
}

func run(pass *analysis.Pass) (any, error) {
	if !isSansIO(pass) {
		return nil, nil
	}
	for _, f := range pass.Files {
		if isTestFile(pass.Fset, f) {
			continue
		}
		c := &checker{
			pass:       pass,
			unordered:  unorderedDirectives(pass.Fset, f),
			rangeLines: make(map[int]bool),
			covered:    make(map[ast.Node]bool),
		}
		ast.Inspect(f, c.visit)
	}
	return nil, nil
}

// isSansIO reports whether the rules apply to the package of pass.
func isSansIO(pass *analysis.Pass) bool {
	path := pass.Pkg.Path()
	if under(path, testdataPrefix) {
		return false
	}
	for _, prefix := range strings.Split(packagesFlag, ",") {
		if prefix = strings.TrimSpace(prefix); prefix != "" && under(path, prefix) {
			return true
		}
	}
	// Test files do not count: the package and its test variant must agree
	// on whether the rules apply.
	for _, f := range pass.Files {
		if !isTestFile(pass.Fset, f) && hasSansIODirective(f) {
			return true
		}
	}
	return false
}

// under reports whether path is prefix or lies under it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func isTestFile(fset *token.FileSet, f *ast.File) bool {
	// The go command compiles a generated test main (in the build cache,
	// without a .go suffix) into every test binary; it is test code too.
	name := fset.File(f.Pos()).Name()
	return strings.HasSuffix(name, "_test.go") || !strings.HasSuffix(name, ".go")
}

// hasSansIODirective reports whether the package doc comment of f contains
// the //gray:sansio line. It reads the raw comments because
// CommentGroup.Text drops directives.
func hasSansIODirective(f *ast.File) bool {
	if f.Doc == nil {
		return false
	}
	for _, c := range f.Doc.List {
		if strings.TrimSpace(c.Text) == sansIODirective {
			return true
		}
	}
	return false
}

// unorderedDirectives maps the line of each //gray:unordered directive in f
// to its reason, which may be empty.
func unorderedDirectives(fset *token.FileSet, f *ast.File) map[int]string {
	lines := make(map[int]string)
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			rest, ok := strings.CutPrefix(c.Text, unorderedDirective)
			if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				continue // not this directive, e.g. //gray:unorderedness
			}
			lines[fset.Position(c.Slash).Line] = strings.TrimSpace(rest)
		}
	}
	return lines
}

// checker checks one non-test file of a sans-IO package.
type checker struct {
	pass *analysis.Pass
	// unordered maps lines to //gray:unordered reasons.
	unordered map[int]string
	// rangeLines holds the lines of the range statements visited so far.
	// Preorder visits a statement on the line above a loop before the loop.
	rangeLines map[int]bool
	// covered holds nodes already explained by the diagnostic of an
	// enclosing node (the receive in a select case, the type in a
	// make(chan)), so that one mistake yields one diagnostic.
	covered map[ast.Node]bool
}

func (c *checker) visit(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.ImportSpec:
		c.checkImport(n)
	case *ast.GoStmt:
		c.pass.Report(analysis.Diagnostic{Pos: n.Go, End: n.Call.Fun.End(),
			Message: "detlint: go statement starts a goroutine; sans-IO code runs on a single " +
				"event loop: run off-loop work with env.Go, which delivers its result as a message"})
	case *ast.SendStmt:
		if !c.covered[n] {
			c.pass.ReportRangef(n, "detlint: channel send; %s", chanAdvice)
		}
	case *ast.UnaryExpr:
		if n.Op == token.ARROW && !c.covered[n] {
			c.pass.ReportRangef(n, "detlint: channel receive; %s", chanAdvice)
		}
	case *ast.SelectStmt:
		c.pass.Report(analysis.Diagnostic{Pos: n.Select, End: n.Body.Lbrace,
			Message: "detlint: select statement waits on channels; " + chanAdvice})
		for _, cc := range n.Body.List {
			if op := commOp(cc.(*ast.CommClause).Comm); op != nil {
				c.covered[op] = true
			}
		}
	case *ast.ChanType:
		if !c.covered[n] {
			c.pass.ReportRangef(n, "detlint: channel type; %s", chanAdvice)
		}
		// chan chan T is one channel type to rewrite, not two.
		if inner, ok := ast.Unparen(n.Value).(*ast.ChanType); ok {
			c.covered[inner] = true
		}
	case *ast.CallExpr:
		c.checkMakeChan(n)
	case *ast.RangeStmt:
		c.checkRange(n)
	case *ast.SelectorExpr:
		// A qualified identifier such as time.Now: report the whole
		// selector. Selectors on values (x.f) reach methods and fields,
		// which are checked where their types are named.
		if id, ok := n.X.(*ast.Ident); ok {
			if _, ok := c.pass.TypesInfo.Uses[id].(*types.PkgName); ok {
				c.checkUse(n.Sel, n)
				return false
			}
		}
	case *ast.Ident:
		c.checkUse(n, n) // a dot-imported name
	}
	return true
}

// commOp returns the channel operation of a select case: a send statement
// or a receive expression. It returns nil for the default case.
func commOp(s ast.Stmt) ast.Node {
	switch s := s.(type) {
	case *ast.SendStmt:
		return s
	case *ast.ExprStmt:
		return ast.Unparen(s.X)
	case *ast.AssignStmt:
		return ast.Unparen(s.Rhs[0])
	}
	return nil
}

func (c *checker) checkImport(spec *ast.ImportSpec) {
	path, err := strconv.Unquote(spec.Path.Value)
	if err != nil {
		return // the type checker has already rejected the file
	}
	for _, b := range bannedImports {
		if under(path, b.prefix) {
			c.pass.ReportRangef(spec, "detlint: import %q %s", path, b.why)
			return
		}
	}
}

// checkMakeChan reports make calls that create channels, including of named
// channel types declared elsewhere.
func (c *checker) checkMakeChan(call *ast.CallExpr) {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok || len(call.Args) == 0 {
		return
	}
	if b, ok := c.pass.TypesInfo.Uses[id].(*types.Builtin); !ok || b.Name() != "make" {
		return
	}
	if t := c.pass.TypesInfo.TypeOf(call); t == nil || !isChan(t) {
		return
	}
	c.pass.ReportRangef(call, "detlint: make(chan) creates a channel; %s", chanAdvice)
	c.covered[ast.Unparen(call.Args[0])] = true
}

func (c *checker) checkRange(rng *ast.RangeStmt) {
	c.rangeLines[c.pass.Fset.Position(rng.For).Line] = true
	t := c.pass.TypesInfo.TypeOf(rng.X)
	if t == nil {
		return
	}
	head := span{rng.For, rng.X.End()}
	switch {
	case isChan(t):
		c.pass.ReportRangef(head, "detlint: range over a channel; %s", chanAdvice)
	case isMap(t) || c.isMapIterator(rng.X):
		c.checkMapRange(rng, head)
	}
}

// isMapIterator reports whether e is a call of maps.Keys, maps.Values or
// maps.All, whose sequences follow the random order of the map.
func (c *checker) isMapIterator(e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	fn, ok := typeutil.Callee(c.pass.TypesInfo, call).(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != "maps" {
		return false
	}
	switch fn.Name() {
	case "Keys", "Values", "All":
		return true
	}
	return false
}

// checkMapRange reports a map range unless a //gray:unordered directive with
// a reason sits on its line or on the line above. A directive trailing
// another range statement on the line above belongs to that statement, so
// that marking an outer loop does not silently mark the loop nested in it.
func (c *checker) checkMapRange(rng *ast.RangeStmt, head span) {
	line := c.pass.Fset.Position(rng.For).Line
	for _, l := range []int{line, line - 1} {
		reason, ok := c.unordered[l]
		if !ok || l != line && c.rangeLines[l] {
			continue
		}
		if reason == "" {
			c.pass.ReportRangef(head, "detlint: %s needs a reason; say why iteration order "+
				"cannot matter for this loop", unorderedDirective)
		}
		return
	}
	c.pass.ReportRangef(head, "detlint: range over a map visits keys in random order; "+
		"iterate over sorted keys, or mark the loop with %s and say why order cannot matter",
		unorderedDirective)
}

// checkUse reports id if it names a banned package-level object; rng is the
// source range to report (the whole selector for qualified identifiers).
func (c *checker) checkUse(id *ast.Ident, rng analysis.Range) {
	obj := c.pass.TypesInfo.Uses[id]
	if obj == nil || obj.Pkg() == nil || obj.Pkg().Scope().Lookup(obj.Name()) != obj {
		return // not package-level: a local, a field or a method
	}
	pkg := obj.Pkg()
	name := pkg.Name() + "." + obj.Name()
	switch pkg.Path() {
	case "sync", "sync/atomic":
		c.pass.ReportRangef(rng, "detlint: %s is for sharing state between goroutines; sans-IO "+
			"code runs on a single event loop and needs no synchronization", name)
	case "time":
		if why, ok := timeFuncs[obj.Name()]; ok && isFunc(obj) {
			c.pass.ReportRangef(rng, "detlint: %s %s", name, why)
		}
	case "math/rand", "math/rand/v2":
		if isFunc(obj) && !randConstructors[obj.Name()] {
			c.pass.ReportRangef(rng, "detlint: %s draws from the global random source; "+
				"use env.Rand() from the injected core.Env", name)
		}
	}
}

// isFunc reports whether obj is a function rather than a method, type,
// variable or constant.
func isFunc(obj types.Object) bool {
	fn, ok := obj.(*types.Func)
	return ok && fn.Signature().Recv() == nil
}

func isChan(t types.Type) bool {
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

func isMap(t types.Type) bool {
	_, ok := t.Underlying().(*types.Map)
	return ok
}

// span is a source range that is not a single node, such as the head of a
// range statement, so that a diagnostic marks "for k := range m" rather
// than the whole loop body.
type span struct{ pos, end token.Pos }

func (s span) Pos() token.Pos { return s.pos }
func (s span) End() token.Pos { return s.end }
