//go:build integration

package ingest

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// TestSQLDocs runs every query of docs/sql.md against real ClickHouse,
// loaded with a day of realistic jobs, and requires each to return rows.
// (TestFastFormsMatchSlowForms checks their answers.)
func TestSQLDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 10 {
		t.Fatalf("docs/sql.md has %d queries, want at least 10", len(blocks))
	}
	st := testenv.Store(t)

	// Yesterday's jobs (with the ids the docs use as examples), jobs of the
	// last two hours and of 400 days ago, rollups refreshed.
	loadDocsHistory(t, st, false)
	loadUsage(t, st, time.Now().UTC())

	for i, b := range blocks {
		q := strings.ReplaceAll(b[1], "batchwatch.", st.Database()+".")
		rows, err := st.Conn().Query(context.Background(), q)
		if err != nil {
			t.Errorf("query %d failed: %v\n%s", i+1, err, b[1])
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("query %d: %v", i+1, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("query %d returned no rows:\n%s", i+1, b[1])
		}
	}
}
