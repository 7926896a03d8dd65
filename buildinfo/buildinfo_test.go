package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   debug.BuildInfo
		want Info
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}},
			Info{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.0"}},
		{"working tree", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "devel", Revision: "abc123-dirty", GoVersion: "go1.26.0"}},
		{"no vcs", debug.BuildInfo{GoVersion: "go1.26.0"}, Info{Version: "devel", Revision: "unknown", GoVersion: "go1.26.0"}},
	} {
		if got := FromBuildInfo(&tc.in); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestCollector(t *testing.T) {
	i := Info{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.0"}
	want := `# HELP batchwatch_build_info A metric with a constant '1' value labelled by version, revision and goversion from which batchwatch was built.
# TYPE batchwatch_build_info gauge
batchwatch_build_info{goversion="go1.26.0",revision="abc123",version="v1.2.3"} 1
`
	if err := testutil.CollectAndCompare(i.Collector(), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if s := i.String(); s != "batchwatch, version v1.2.3 (revision: abc123, go: go1.26.0)" {
		t.Errorf("String() = %q", s)
	}
}
