//go:build integration

package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/testenv"
)

// The Docker stack test runs the root docker-compose.yml for real: images
// built here from Debian's packages (no registry is reachable), the demo
// profile, Grafana left out (its provisioning is checked as files by the
// unit tests). Images are cached by tag for the run; the compose project is
// removed at the end. BATCHWATCH_DOCKER_PREFIX names the images
// (default batchwatch-stacktest).

// stackImages are the image tags of the test.
type stackImages struct{ base, batchwatch, services string }

func newStackImages() stackImages {
	p := os.Getenv("BATCHWATCH_DOCKER_PREFIX")
	if p == "" {
		p = "batchwatch-stacktest"
	}
	return stackImages{base: p + "/debian:bookworm", batchwatch: p + "/batchwatch:test", services: p + "/services:debian"}
}

// docker runs a docker (or docker-compose) command and fails the test on error.
func dockerRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tailLines(string(out), 40))
	}
	return string(out)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func imageExists(tag string) bool {
	return exec.Command("docker", "image", "inspect", tag).Run() == nil
}

// buildImages builds what is missing: the Debian base (debootstrap, docker
// import), one image of ClickHouse, Prometheus and Alertmanager from
// Debian's packages, and always the batchwatch image, with the binary built
// by this Go.
func buildImages(t *testing.T, im stackImages) {
	t.Helper()
	root := repoRoot(t)
	if !imageExists(im.base) {
		rootfs := filepath.Join(t.TempDir(), "rootfs")
		dockerRun(t, root, nil, "debootstrap", "--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian")
		dockerRun(t, root, nil, "sh", "-c", fmt.Sprintf("tar -C %q -c . | docker import - %s", rootfs, im.base))
	}
	if !imageExists(im.services) {
		ctx := filepath.Join(root, "deploy", "docker", "stacktest")
		dockerRun(t, root, nil, "docker", "build", "-q", "-f", filepath.Join(ctx, "services.Dockerfile"),
			"--build-arg", "BASE_IMAGE="+im.base, "-t", im.services, ctx)
	}
	// The batchwatch image from deploy/docker/Dockerfile, its base images
	// and the binary given as build arguments.
	bctx := t.TempDir()
	bin := buildBatchwatch(t)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bctx, "batchwatch"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The legacy builder leaves the build stage, and the image the tag
	// had before, dangling: remove those this build left.
	before := danglingImages(t)
	dockerRun(t, root, nil, "docker", "build", "-q", "-f", filepath.Join(root, "deploy", "docker", "Dockerfile"),
		"--build-arg", "BUILD_IMAGE="+im.base, "--build-arg", "BASE_IMAGE="+im.base, "--build-arg", "PREBUILT=batchwatch",
		"-t", im.batchwatch, bctx)
	for id := range danglingImages(t) {
		if !before[id] {
			_ = exec.Command("docker", "rmi", id).Run()
		}
	}
}

func danglingImages(t *testing.T) map[string]bool {
	t.Helper()
	out := dockerRun(t, "", nil, "docker", "images", "-q", "--no-trunc", "-f", "dangling=true")
	ids := map[string]bool{}
	for _, id := range strings.Fields(out) {
		ids[id] = true
	}
	return ids
}

// stackPrometheusDir writes the real prometheus.yml with its rule files at
// their absolute path plus the always-firing rule of the test.
func stackPrometheusDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var cfg map[string]any
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	cfg["rule_files"] = []string{"/etc/prometheus/rules/*.yml", "/etc/prometheus-stacktest/always-firing.rules.yml"}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := os.ReadFile("docker/stacktest/always-firing.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"prometheus.yml": out, "always-firing.rules.yml": rule} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The container's Prometheus does not run as this user.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// composeStack is one compose project of the test.
type composeStack struct {
	t       *testing.T
	project string
	env     []string
	ports   map[string]int
}

func (s *composeStack) compose(args ...string) string {
	s.t.Helper()
	base := []string{"--env-file", filepath.Join(deployDir(s.t), demoEnvFile), "-p", s.project,
		"-f", "docker-compose.yml", "-f", "deploy/docker/stacktest/docker-compose.override.yml"}
	return dockerRun(s.t, repoRoot(s.t), s.env, "docker-compose", append(base, args...)...)
}

// services are the services the test starts (demo profile, no Grafana).
var stackServices = []string{"clickhouse", "prometheus", "alertmanager", "migrate", "retention", "ingest", "exporter", "sim"}

func startStack(t *testing.T, im stackImages) *composeStack {
	t.Helper()
	s := &composeStack{t: t, project: strings.ReplaceAll(testenv.UniqueName("bwstack"), "_", ""), ports: map[string]int{}}
	s.env = []string{"BATCHWATCH_IMAGE=" + im.batchwatch, "STACKTEST_SERVICES_IMAGE=" + im.services,
		"STACKTEST_PROMETHEUS_DIR=" + stackPrometheusDir(t), "COMPOSE_PROFILES=demo", "DOCKER_BUILDKIT=0"}
	for _, v := range []string{"CLICKHOUSE", "CLICKHOUSE_HTTP", "PROMETHEUS", "ALERTMANAGER", "GRAFANA", "INGEST", "EXPORTER", "SUBMITTER", "SIM"} {
		s.ports[v] = testenv.FreePort(t)
		s.env = append(s.env, fmt.Sprintf("BATCHWATCH_%s_PORT=%d", v, s.ports[v]))
	}
	t.Cleanup(func() {
		if t.Failed() {
			cmd := exec.Command("docker-compose", "--env-file", filepath.Join(deployDir(t), demoEnvFile), "-p", s.project,
				"-f", "docker-compose.yml", "-f", "deploy/docker/stacktest/docker-compose.override.yml", "logs", "--tail=30")
			cmd.Dir, cmd.Env = repoRoot(t), append(os.Environ(), s.env...)
			out, _ := cmd.CombinedOutput()
			t.Logf("compose logs:\n%s", tailLines(string(out), 200))
		}
		s.compose("down", "-v", "--remove-orphans", "-t", "5")
	})
	s.compose(append([]string{"up", "-d", "--no-build"}, stackServices...)...)
	return s
}

// container returns the id of a service's container.
func (s *composeStack) container(service string) string {
	s.t.Helper()
	return strings.TrimSpace(s.compose("ps", "-q", service))
}

// waitHealthy waits until every service with a healthcheck is healthy and
// migrate has exited 0.
func (s *composeStack) waitHealthy(timeout time.Duration) {
	s.t.Helper()
	testenv.WaitFor(s.t, timeout, "every healthcheck passing", func() (bool, string) {
		var bad []string
		for _, svc := range stackServices {
			id := s.container(svc)
			if id == "" {
				bad = append(bad, svc+": no container")
				continue
			}
			out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id).Output()
			if err != nil {
				bad = append(bad, svc+": "+err.Error())
				continue
			}
			st := strings.Fields(string(out))
			switch {
			case svc == "migrate":
				if st[0] != "exited" || st[1] != "0" {
					bad = append(bad, svc+": "+string(out))
				}
			case noHealthcheck[svc]:
				if st[0] != "running" {
					bad = append(bad, svc+": "+string(out))
				}
			case len(st) < 3 || st[2] != "healthy":
				bad = append(bad, svc+": "+strings.TrimSpace(string(out)))
			}
		}
		return len(bad) == 0, strings.Join(bad, "; ")
	})
}

// eventsAsGrafana counts the events table as batchwatch_grafana, through
// the published native port.
func (s *composeStack) eventsAsGrafana() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := chConn(s.t, fmt.Sprintf("127.0.0.1:%d", s.ports["CLICKHOUSE"]), "batchwatch_grafana", "demo-grafana-pw", "")
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM batchwatch.events").Scan(&n)
	return n, err
}

func httpJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func TestComposeStackInDocker(t *testing.T) {
	for _, tool := range []string{"docker", "docker-compose", "debootstrap"} {
		requireTool(t, tool, "scripts/install.sh docker")
	}
	im := newStackImages()
	buildImages(t, im)
	s := startStack(t, im)
	s.waitHealthy(4 * time.Minute)

	// Events flow from the simulator through ingest into ClickHouse, and
	// Grafana's read-only user reads them.
	var before uint64
	testenv.WaitFor(t, 3*time.Minute, "events in ClickHouse, read as batchwatch_grafana", func() (bool, string) {
		n, err := s.eventsAsGrafana()
		before = n
		return err == nil && n > 0, fmt.Sprintf("%d events, %v", n, err)
	})

	// default is refused from another container of the stack's network.
	ch := s.container("clickhouse")
	out, err := exec.Command("docker", "exec", s.container("ingest"), "/usr/local/bin/batchwatch", "healthcheck", "http://clickhouse:8123/ping").CombinedOutput()
	if err != nil {
		t.Fatalf("ingest's container cannot reach ClickHouse: %v %s", err, out)
	}
	network := strings.TrimSpace(dockerRun(t, "", nil, "docker", "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", ch))
	cmd := exec.Command("docker", "run", "--rm", "--network", network, "--entrypoint", "clickhouse-client", im.services,
		"--host", "clickhouse", "--user", "default", "-q", "SELECT 1")
	if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("not allowed to connect")) {
		t.Errorf("default from another container: %v\n%s", err, out)
	}

	// Prometheus scrapes the exporter and ingest; Alertmanager has the alert.
	prom := fmt.Sprintf("http://127.0.0.1:%d", s.ports["PROMETHEUS"])
	for _, job := range []string{"batchwatch-exporter", "batchwatch-ingest"} {
		testenv.WaitFor(t, 2*time.Minute, job+" scraped", queryIs(prom, `up{job="`+job+`"}`, func(v float64) bool { return v == 1 }))
	}
	am := fmt.Sprintf("http://127.0.0.1:%d/api/v2/alerts", s.ports["ALERTMANAGER"])
	testenv.WaitFor(t, 2*time.Minute, "Alertmanager receiving StackTestAlwaysFiring", func() (bool, string) {
		var alerts []struct {
			Labels map[string]string `json:"labels"`
		}
		if err := httpJSON(am, &alerts); err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "StackTestAlwaysFiring" {
				return true, ""
			}
		}
		return false, strconv.Itoa(len(alerts)) + " alerts"
	})

	// down, then up: the volumes keep the data.
	s.compose("down", "-t", "30")
	s.compose(append([]string{"up", "-d", "--no-build"}, stackServices...)...)
	s.waitHealthy(4 * time.Minute)
	n, err := s.eventsAsGrafana()
	if err != nil || n < before {
		t.Errorf("after down and up: %d events (%v), had %d", n, err, before)
	}
	t.Logf("%d events before down, %d after up", before, n)
}
