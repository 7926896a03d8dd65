// Package docs holds the repository's reference documents; its test keeps
// every Markdown file of the repository self-contained.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// mdLink is a Markdown link or image target: [text](target).
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// upPath is a relative path that climbs: ../x, ../../x.
	upPath = regexp.MustCompile(`(?:^|[\s("'\x60])((?:\.\./)+[\w.-][\w./-]*)`)
)

// TestDocsStayInRepository fails when a Markdown file of the repository
// links to, or names a relative path into, a file outside the repository,
// or links to a repository file that does not exist: a newcomer who
// clones the repository must be able to follow every document.
func TestDocsStayInRepository(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := markdownFiles(t, root)
	if len(files) < 5 {
		t.Fatalf("only %d Markdown files found under %s", len(files), root)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, p := range outsideRefs(root, f, string(b)) {
			t.Errorf("%s: %s", rel, p)
		}
	}
}

func TestOutsideRefs(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "README.md"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(root, "docs", "x.md")
	for text, want := range map[string]int{
		"Read `../../shared/DOMAIN.md` first.":                              1,
		"See [style](../../shared/STYLE.md).":                               1,
		"See [readme](../README.md) and [web](https://example.com/a/../b).": 0,
		"See [missing](../NOPE.md).":                                        1,
		"[anchor](#layering), [file](x.md#top)":                             1, // x.md does not exist in docs/
		"a ratio of 0.35-0.44 ... and 1../2":                                0,
	} {
		if got := outsideRefs(root, doc, text); len(got) != want {
			t.Errorf("%q: %d problems %v, want %d", text, len(got), got, want)
		}
	}
}

// markdownFiles lists the repository's Markdown files, skipping
// directories that are not part of it (VCS data, build output).
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", ".run", ".bench", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outsideRefs returns the problems of one document's text: link targets
// that leave root or do not exist, and relative paths that climb out of
// root.
func outsideRefs(root, file, text string) []string {
	var out []string
	dir := filepath.Dir(file)
	inside := func(target string) bool {
		abs := filepath.Clean(filepath.Join(dir, target))
		return abs == root || strings.HasPrefix(abs, root+string(filepath.Separator))
	}
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		switch {
		case filepath.IsAbs(target) || !inside(target):
			out = append(out, "link leaves the repository: "+m[1])
		default:
			if _, err := os.Stat(filepath.Join(dir, target)); err != nil {
				out = append(out, "link to a missing file: "+m[1])
			}
		}
	}
	// Link targets were checked above.
	for _, m := range upPath.FindAllStringSubmatch(mdLink.ReplaceAllString(text, "]()"), -1) {
		if !inside(m[1]) {
			out = append(out, "path leaves the repository: "+m[1])
		}
	}
	return out
}
