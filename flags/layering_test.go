package flags

import (
	"go/build"
	"strings"
	"testing"
)

// TestDataLayersDoNotImportWeb keeps the database and AWS layers free of
// the HTTP server (exporter-toolkit, promhttp, pprof): they register their
// flags through this package.
func TestDataLayersDoNotImportWeb(t *testing.T) {
	const module = "github.com/batchwatch/batchwatch/"
	for _, pkg := range []string{"store", "awsclient"} {
		seen := map[string]bool{}
		var walk func(path string, chain []string)
		walk = func(path string, chain []string) {
			if seen[path] {
				return
			}
			seen[path] = true
			if path == module+"web" {
				t.Errorf("%s imports web through %s", pkg, strings.Join(chain, " → "))
				return
			}
			p, err := build.Import(path, "..", 0)
			if err != nil {
				t.Fatalf("import %s: %v", path, err)
			}
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module) {
					walk(imp, append(chain, strings.TrimPrefix(imp, module)))
				}
			}
		}
		walk(module+pkg, []string{pkg})
	}
}
