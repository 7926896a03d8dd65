package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The two ways to run the stack: against AWS (aws.env.example, copied to
// .env by users) and the demo against the simulator.
const (
	awsEnvFile  = "aws.env.example"
	demoEnvFile = "demo.env"
)

// deployDir is this folder, absolute (tests run in their package directory).
func deployDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func repoRoot(t testing.TB) string { return filepath.Dir(deployDir(t)) }

// awsPasswords fill the required passwords aws.env.example leaves empty.
const awsPasswords = `
CLICKHOUSE_MIGRATE_PASSWORD=t-migrate
CLICKHOUSE_INGEST_PASSWORD=t-ingest
CLICKHOUSE_SUBMITTER_PASSWORD=t-submitter
CLICKHOUSE_GRAFANA_PASSWORD=t-grafana
GRAFANA_ADMIN_PASSWORD=t-admin
`

// envPath returns the env file compose is given: "" an empty file,
// awsEnvFile the example with its passwords filled in (as a user does),
// anything else that file of deploy/.
func envPath(t testing.TB, envFile string) string {
	t.Helper()
	switch envFile {
	case "", awsEnvFile:
		var data []byte
		if envFile == awsEnvFile {
			example, err := os.ReadFile(filepath.Join(deployDir(t), awsEnvFile))
			if err != nil {
				t.Fatal(err)
			}
			data = append(example, awsPasswords...)
		}
		p := filepath.Join(t.TempDir(), "test.env")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return filepath.Join(deployDir(t), envFile)
}

// composeFile is the stack's compose file, at the repository root.
func composeFile(t testing.TB) string { return filepath.Join(repoRoot(t), "docker-compose.yml") }

// loadCompose loads the root docker-compose.yml the way `docker compose
// --env-file FILE` does: variables and COMPOSE_PROFILES from the env file
// only (not from this process's environment, which must not change what the
// test sees). envFile as envPath takes it. profiles, when given, replace
// COMPOSE_PROFILES ("*" enables every profile).
func loadCompose(t testing.TB, envFile string, profiles ...string) (*types.Project, error) {
	t.Helper()
	return loadComposeFile(t, envPath(t, envFile), profiles...)
}

// loadComposeFile loads docker-compose.yml with the env file at path.
func loadComposeFile(t testing.TB, path string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile(t)},
		cli.WithWorkingDirectory(repoRoot(t)),
		cli.WithEnvFiles(path),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(profiles...),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t testing.TB, envFile string, profiles ...string) *types.Project {
	t.Helper()
	p, err := loadCompose(t, envFile, profiles...)
	if err != nil {
		t.Fatalf("load docker-compose.yml with %q: %v", envFile, err)
	}
	return p
}

// batchwatchImage is the image every batchwatch service runs (built by the
// Dockerfile unless BATCHWATCH_IMAGE names another).
const batchwatchImage = "batchwatch:local"

// batchwatchServices are the services running the batchwatch image, sorted.
func batchwatchServices(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, name := range p.ServiceNames() {
		if s := p.Services[name]; s.Image == batchwatchImage {
			out = append(out, s)
		}
	}
	return out
}

// thirdPartyPorts are the ports the other images serve on by default (the
// compose file does not move them).
var thirdPartyPorts = map[string][]int{
	"clickhouse":   {8123, 9000},
	"prometheus":   {9090},
	"alertmanager": {9093},
	"grafana":      {3000},
}

// env returns a service's environment variable ("" when unset or empty).
func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

// flagValue returns the value of --name=value (or --name value) in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// hostPort splits host:port; a URL's host:port too.
func hostPort(t testing.TB, s string) (string, int) {
	t.Helper()
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		s = u.Host
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: port: %v", s, err)
	}
	return h, n
}

// requireTool fails the test when a command-line tool is missing: tests
// never skip.
func requireTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (install it with %s): %v", name, install, err)
	}
	return p
}

// run runs a command in dir and returns its combined output and error.
func run(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// buildBatchwatch builds the binary as deploy/docker/Dockerfile does
// (static, trimmed paths) into a temporary folder.
func buildBatchwatch(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "batchwatch")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/batchwatch")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/batchwatch (as the Dockerfile builds it): %v\n%s", err, out)
	}
	return bin
}
