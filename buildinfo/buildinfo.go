// Package buildinfo says which build of batchwatch is running: for
// --version, the landing pages and the batchwatch_build_info metric every
// component serves (labelled as Prometheus' own prometheus_build_info).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Info identifies a build.
type Info struct {
	// Version is the module version stamped by the Go toolchain, or
	// "devel" for a build from a working tree.
	Version string
	// Revision is the VCS commit the binary was built from ("unknown"
	// without VCS information), suffixed "-dirty" when the tree had
	// changes.
	Revision  string
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel", Revision: "unknown", GoVersion: runtime.Version()}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo reads Info out of what the toolchain stamped.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	i := Info{Version: "devel", Revision: "unknown", GoVersion: bi.GoVersion}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		i.Version = v
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && i.Revision != "unknown" {
		i.Revision += "-dirty"
	}
	return i
}

// String is the --version line.
func (i Info) String() string {
	return fmt.Sprintf("batchwatch, version %s (revision: %s, go: %s)", i.Version, i.Revision, i.GoVersion)
}

// Collector is batchwatch_build_info: 1, labelled with the build.
func (i Info) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "batchwatch_build_info",
		Help: "A metric with a constant '1' value labelled by version, revision and goversion from which batchwatch was built.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}
