package deploytest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// This file finds, from the source alone (go/parser, no type checking), the
// AWS API operations a program calls, so the IAM policies can be checked
// against the code instead of against a list someone keeps by hand.
//
// An operation is "called" by a function when the function (body or
// signature) refers to the operation's input type, <svc>.<Op>Input of an
// import github.com/aws/aws-sdk-go-v2/service/<svc>: every SDK call, direct or
// through a narrow interface, paginator or waiter, passes one. Interface
// declarations alone do not count (a declared method nobody calls needs no
// permission).
//
// Which functions run is decided by reachability over a call graph built by
// name: a reference to a top-level name of the same package or of a module
// package is an edge to it; x.M(...) is an edge to every method named M in
// the module (over-approximating calls through interfaces); a non-call x.M is
// an edge to methods named M unless M is also a struct field name somewhere
// in the module (then it is taken for a field). Package-level variables and
// init functions of a package run when any of its declarations is reached.
// The runtime is what the entry package reaches without entering the
// bootstrap package; bootstrap is what the bootstrap package reaches.

const awsServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// awsOp is one API operation, e.g. {"s3", "ListObjectsV2"}.
type awsOp struct{ Service, Op string }

func (o awsOp) String() string { return o.Service + "." + o.Op }

// declKey names a declaration: "pkgpath.Name" or "pkgpath.Type.Method".
type declKey string

// decl is one top-level declaration and what it refers to.
type decl struct {
	key       declKey
	pkg       string
	method    string  // method name when the decl is a method
	recv      declKey // the receiver's type declaration when the decl is a method
	loadTime  bool    // a package-level var/const or an init func: runs on package load
	ops       map[awsOp]bool
	refs      map[declKey]bool // to top-level names (resolved later: may not exist)
	calls     map[string]bool  // method names called: x.M(...)
	valueSels map[string]bool  // method names used as values: x.M
}

// program is the parsed module.
type program struct {
	module  string
	decls   map[declKey]*decl
	methods map[string][]*decl  // by method name
	recvs   map[declKey][]*decl // methods by receiver type
	fields  map[string]bool     // every struct field name in the module
	byPkg   map[string][]*decl
}

// loadProgram parses every non-test .go file of the module at root (module
// path module), skipping testdata, vendor, node_modules, hidden directories
// and nested modules.
func loadProgram(root, module string) (*program, error) {
	p := &program{
		module:  module,
		decls:   map[declKey]*decl{},
		methods: map[string][]*decl{},
		recvs:   map[declKey][]*decl{},
		fields:  map[string]bool{},
		byPkg:   map[string][]*decl{},
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root {
				if name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := module
		if rel != "." {
			pkg = module + "/" + filepath.ToSlash(rel)
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		p.addFile(pkg, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *program) addFile(pkg string, f *ast.File) {
	imports := map[string]string{} // local name -> path
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == "_" || name == "." {
			continue
		}
		imports[name] = path
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if st, ok := n.(*ast.StructType); ok {
			for _, fl := range st.Fields.List {
				for _, nm := range fl.Names {
					p.fields[nm.Name] = true
				}
			}
		}
		return true
	})
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := d.Name.Name
			var dc *decl
			if d.Recv != nil && len(d.Recv.List) > 0 {
				rt := recvType(d.Recv.List[0].Type)
				dc = p.newDecl(pkg, rt+"."+name, name)
				dc.recv = declKey(pkg + "." + rt)
				p.recvs[dc.recv] = append(p.recvs[dc.recv], dc)
			} else {
				dc = p.newDecl(pkg, name, "")
			}
			dc.loadTime = d.Recv == nil && name == "init"
			p.walk(dc, imports, d.Type)
			if d.Body != nil {
				p.walk(dc, imports, d.Body)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					dc := p.newDecl(pkg, s.Name.Name, "")
					if _, isIface := s.Type.(*ast.InterfaceType); !isIface {
						p.walk(dc, imports, s.Type)
					}
				case *ast.ValueSpec:
					for i, nm := range s.Names {
						name := nm.Name
						if name == "_" {
							name = fmt.Sprintf("_%d_%d", s.Pos(), i)
						}
						dc := p.newDecl(pkg, name, "")
						dc.loadTime = true
						if s.Type != nil {
							p.walk(dc, imports, s.Type)
						}
						for _, v := range s.Values {
							p.walk(dc, imports, v)
						}
					}
				}
			}
		}
	}
}

func (p *program) newDecl(pkg, name, method string) *decl {
	key := declKey(pkg + "." + name)
	if d, ok := p.decls[key]; ok && name != "init" {
		return d
	}
	if name == "init" {
		key = declKey(fmt.Sprintf("%s.init#%d", pkg, len(p.byPkg[pkg])))
	}
	d := &decl{key: key, pkg: pkg, method: method, ops: map[awsOp]bool{}, refs: map[declKey]bool{}, calls: map[string]bool{}, valueSels: map[string]bool{}}
	p.decls[key] = d
	p.byPkg[pkg] = append(p.byPkg[pkg], d)
	if method != "" {
		p.methods[method] = append(p.methods[method], d)
	}
	return d
}

func recvType(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvType(t.X)
	case *ast.IndexExpr:
		return recvType(t.X)
	case *ast.IndexListExpr:
		return recvType(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

// walk records what node refers to, on behalf of dc.
func (p *program) walk(dc *decl, imports map[string]string, node ast.Node) {
	called := map[*ast.SelectorExpr]bool{}
	selIdents := map[*ast.Ident]bool{}
	ast.Inspect(node, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if s, ok := unparen(n.Fun).(*ast.SelectorExpr); ok {
				called[s] = true
			}
		case *ast.SelectorExpr:
			selIdents[n.Sel] = true
			if x, ok := n.X.(*ast.Ident); ok {
				if path, isImport := imports[x.Name]; isImport {
					selIdents[x] = true
					switch {
					case strings.HasPrefix(path, awsServicePrefix) && !strings.Contains(path[len(awsServicePrefix):], "/"):
						if op, ok := strings.CutSuffix(n.Sel.Name, "Input"); ok && op != "" {
							dc.ops[awsOp{path[len(awsServicePrefix):], op}] = true
						}
					case path == p.module || strings.HasPrefix(path, p.module+"/"):
						dc.refs[declKey(path+"."+n.Sel.Name)] = true
					}
					return true
				}
			}
			if called[n] {
				dc.calls[n.Sel.Name] = true
			} else {
				dc.valueSels[n.Sel.Name] = true
			}
		case *ast.Field:
			// Names of struct fields, parameters and results are not
			// references either (a field Timeout is not the func Timeout).
			for _, name := range n.Names {
				selIdents[name] = true
			}
		case *ast.KeyValueExpr:
			// Field names in composite literals are not references.
			if k, ok := n.Key.(*ast.Ident); ok {
				selIdents[k] = true
			}
		case *ast.Ident:
			if !selIdents[n] {
				dc.refs[declKey(dc.pkg+"."+n.Name)] = true
			}
		}
		return true
	})
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

// reach returns the declarations reachable from roots without entering a
// package in cut, and the operations they refer to.
func (p *program) reach(roots []*decl, cut map[string]bool) (map[declKey]bool, map[awsOp]bool) {
	seen := map[declKey]bool{}
	loaded := map[string]bool{}
	ops := map[awsOp]bool{}
	used := map[string]bool{} // method names called or taken as values
	var queue []*decl
	push := func(d *decl) {
		if d == nil || seen[d.key] || cut[d.pkg] {
			return
		}
		seen[d.key] = true
		queue = append(queue, d)
		if !loaded[d.pkg] {
			loaded[d.pkg] = true
			for _, o := range p.byPkg[d.pkg] {
				if o.loadTime {
					queue = append(queue, o)
					seen[o.key] = true
				}
			}
		}
	}
	// A method runs only on a value of its receiver type, so it is reached
	// when its name is used and its type is named by reached code (in a
	// declaration, a literal, a signature or a struct field).
	live := func(md *decl) bool { return p.decls[md.recv] == nil || seen[md.recv] }
	use := func(m string) {
		used[m] = true
		for _, md := range p.methods[m] {
			if live(md) {
				push(md)
			}
		}
	}
	for _, r := range roots {
		push(r)
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for op := range d.ops {
			ops[op] = true
		}
		for _, md := range p.recvs[d.key] {
			if used[md.method] {
				push(md)
			}
		}
		for r := range d.refs {
			push(p.decls[r])
		}
		for m := range d.calls {
			use(m)
		}
		for m := range d.valueSels {
			if !p.fields[m] {
				use(m)
			}
		}
	}
	return seen, ops
}

// usedOps returns the operations the program's runtime calls (reached from
// every declaration of the entry package without entering bootstrapPkg) and
// those bootstrap calls (reached from bootstrapPkg).
func (p *program) usedOps(entryPkg, bootstrapPkg string) (runtime, bootstrap map[awsOp]bool, err error) {
	if len(p.byPkg[entryPkg]) == 0 {
		return nil, nil, fmt.Errorf("entry package %s not found", entryPkg)
	}
	if len(p.byPkg[bootstrapPkg]) == 0 {
		return nil, nil, fmt.Errorf("bootstrap package %s not found", bootstrapPkg)
	}
	_, runtime = p.reach(p.byPkg[entryPkg], map[string]bool{bootstrapPkg: true})
	_, bootstrap = p.reach(p.byPkg[bootstrapPkg], nil)
	return runtime, bootstrap, nil
}

// iamActionsFor maps SDK operations whose IAM action is not <svc>:<Op>.
var iamActionsFor = map[awsOp][]string{
	{"s3", "ListObjectsV2"}:           {"s3:ListBucket"},
	{"s3", "ListObjects"}:             {"s3:ListBucket"},
	{"s3", "HeadBucket"}:              {"s3:ListBucket"},
	{"s3", "HeadObject"}:              {"s3:GetObject"},
	{"s3", "CreateMultipartUpload"}:   {"s3:PutObject"},
	{"s3", "UploadPart"}:              {"s3:PutObject"},
	{"s3", "CompleteMultipartUpload"}: {"s3:PutObject"},
	{"s3", "DeleteObjects"}:           {"s3:DeleteObject"},
	{"s3", "CopyObject"}:              {"s3:GetObject", "s3:PutObject"},
	{"s3", "UploadPartCopy"}:          {"s3:GetObject", "s3:PutObject"},
	{"s3", "ListMultipartUploads"}:    {"s3:ListBucketMultipartUploads"},
	{"s3", "ListParts"}:               {"s3:ListMultipartUploadParts"},
}

// iamActions maps operations to the IAM actions they need, sorted.
func iamActions(ops map[awsOp]bool) []string {
	set := map[string]bool{}
	for op := range ops {
		if acts, ok := iamActionsFor[op]; ok {
			for _, a := range acts {
				set[a] = true
			}
			continue
		}
		set[op.Service+":"+op.Op] = true
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func sortedOps(ops map[awsOp]bool) []string {
	out := make([]string, 0, len(ops))
	for op := range ops {
		out = append(out, op.String())
	}
	sort.Strings(out)
	return out
}
