package deploy

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// helpFlag is one flag as the binary's --help shows it.
type helpFlag struct {
	bool       bool   // --[no-]name: takes no value
	repeatable bool   // "..." after it
	def        string // its default, or its placeholder (upper case) when it has none
	envVar     string // ($VAR) it is read from
}

var helpFlagLine = regexp.MustCompile(`^\s+(?:-\w, )?--(\[no-\])?([a-z0-9][a-z0-9._-]*)(?:=(\S+))?( \.\.\.)?`)

// parseHelp reads the flags of a command's --help output.
func parseHelp(out string) map[string]helpFlag {
	flags := map[string]helpFlag{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			last = m[2]
			flags[last] = helpFlag{bool: m[1] != "", repeatable: m[4] != "", def: strings.Trim(m[3], `"`)}
			continue
		}
		if last != "" {
			if m := regexp.MustCompile(`\(\$([A-Z_]+)\)`).FindStringSubmatch(line); m != nil {
				f := flags[last]
				f.envVar = m[1]
				flags[last] = f
			}
		}
	}
	return flags
}

// checkArgs checks a command line against the flags of its command: kingpin's
// --help parse catches unknown flags, but not values of the wrong type (it
// prints help before it looks at them).
func checkArgs(args []string, flags map[string]helpFlag) []string {
	var errs []string
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			errs = append(errs, "unexpected argument "+a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		f, ok := flags[name]
		if neg, isNeg := strings.CutPrefix(name, "no-"); !ok && isNeg && flags[neg].bool {
			name, f, ok = neg, flags[neg], true
		}
		if !ok {
			errs = append(errs, "unknown flag --"+name)
			continue
		}
		if seen[name] && !f.repeatable {
			errs = append(errs, "--"+name+" given twice")
		}
		seen[name] = true
		if f.bool {
			if hasValue {
				errs = append(errs, "--"+name+" is a switch, it takes no value")
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				errs = append(errs, "--"+name+" has no value")
				continue
			}
			i++
			value = args[i]
		}
		if d, err := time.ParseDuration(f.def); err == nil && strings.IndexFunc(f.def, isLetter) >= 0 && d >= 0 {
			if _, err := time.ParseDuration(value); err != nil {
				errs = append(errs, "--"+name+"="+value+": not a duration (default "+f.def+")")
			}
		} else if _, err := strconv.ParseFloat(f.def, 64); err == nil {
			if _, err := strconv.ParseFloat(value, 64); err != nil {
				errs = append(errs, "--"+name+"="+value+": not a number (default "+f.def+")")
			}
		}
	}
	return errs
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' }

func TestCheckArgsCatchesMistakes(t *testing.T) {
	flags := map[string]helpFlag{
		"sqs.wait-time":  {def: "20s"},
		"speed":          {def: "1"},
		"sqs.queue-url":  {def: "SQS.QUEUE-URL", repeatable: true},
		"no-migrate":     {bool: true},
		"serve":          {bool: true},
		"web.config.url": {def: ""},
	}
	for _, tc := range []struct {
		args []string
		bad  bool
	}{
		{[]string{"--sqs.wait-time=5s", "--speed", "60", "--sqs.queue-url=a", "--sqs.queue-url=b", "--no-migrate", "--no-serve"}, false},
		{[]string{"--sqs.wait-time=5"}, true},
		{[]string{"--speed=fast"}, true},
		{[]string{"--no-migrate=true"}, true},
		{[]string{"--speed=1", "--speed=2"}, true},
		{[]string{"--unknown=1"}, true},
		{[]string{"positional"}, true},
		{[]string{"--speed"}, true},
	} {
		if errs := checkArgs(tc.args, flags); (len(errs) > 0) != tc.bad {
			t.Errorf("%v: errors %v, want bad=%v", tc.args, errs, tc.bad)
		}
	}
}

// listenPort is the port a batchwatch service serves on: --listen (sim) or
// --web.listen-address, else the command's default from its help.
func listenPort(t testing.TB, s types.ServiceConfig, flags map[string]helpFlag) (string, int) {
	t.Helper()
	name := "web.listen-address"
	if s.Command[0] == "sim" {
		name = "listen"
	}
	v, ok := flagValue(s.Command[1:], name)
	if !ok {
		v = flags[name].def
	}
	return hostPort(t, v)
}

// Every batchwatch service's command line parses with the real binary, built
// as the Dockerfile builds it; its port is what the healthcheck asks, what
// is published, exposed and scraped; its ClickHouse is the compose service.
func TestComposeCommandLines(t *testing.T) {
	bin := buildBatchwatch(t)
	prom := loadPromConfig(t)
	dockerfile, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	exposed := regexp.MustCompile(`(?m)^EXPOSE (.+)$`).FindStringSubmatch(string(dockerfile))
	var ds struct {
		Datasources []struct {
			Type     string         `yaml:"type"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/batchwatch.yml", &ds)

	for _, envFile := range []string{awsEnvFile, demoEnvFile} {
		p := mustLoadCompose(t, envFile, "*")
		for _, s := range batchwatchServices(p) {
			t.Run(envFile+"/"+s.Name, func(t *testing.T) {
				if len(s.Command) == 0 {
					t.Fatal("no command")
				}
				out, err := run(repoRoot(t), bin, append(slices.Clone(s.Command), "--help")...)
				if err != nil || !strings.Contains(out, "usage: batchwatch "+s.Command[0]) {
					t.Fatalf("batchwatch %s --help: %v\n%s", strings.Join(s.Command, " "), err, out)
				}
				flags := parseHelp(out)
				if len(flags) < 5 {
					t.Fatalf("read only %d flags from the help of %s:\n%s", len(flags), s.Command[0], out)
				}
				for _, e := range checkArgs(s.Command[1:], flags) {
					t.Errorf("batchwatch %s: %s", s.Command[0], e)
				}

				if !noHealthcheck[s.Name] {
					checkServedPort(t, s, flags, prom, exposed)
				}

				if _, ok := flags["clickhouse.addr"]; ok {
					addr, ok := flagValue(s.Command, "clickhouse.addr")
					if !ok {
						t.Fatalf("no --clickhouse.addr: the default %s is the container itself", flags["clickhouse.addr"].def)
					}
					if h, pt := hostPort(t, addr); h != "clickhouse" || !slices.Contains(thirdPartyPorts["clickhouse"], pt) || pt != 9000 {
						t.Errorf("--clickhouse.addr=%s, want clickhouse:9000 (native protocol)", addr)
					}
					checkClickHouseUser(t, p, s, flags)
					db, ok := flagValue(s.Command, "clickhouse.database")
					if !ok {
						db = flags["clickhouse.database"].def
					}
					for _, d := range ds.Datasources {
						if d.Type == "grafana-clickhouse-datasource" && d.JSONData["defaultDatabase"] != db {
							t.Errorf("writes database %s, Grafana's datasource reads %v", db, d.JSONData["defaultDatabase"])
						}
					}
				}
			})
		}
	}
}

// checkServedPort: the service's port is what the healthcheck asks (through
// `batchwatch healthcheck` with the service's web config), what is
// published, exposed and scraped.
func checkServedPort(t *testing.T, s types.ServiceConfig, flags map[string]helpFlag, prom promConfig, exposed []string) {
	t.Helper()
	host, port := listenPort(t, s, flags)
	if host != "" && host != "0.0.0.0" {
		t.Errorf("listens on %s:%d: unreachable from the other containers", host, port)
	}
	test := s.HealthCheck.Test
	if len(test) < 4 || test[0] != "CMD" || test[1] != "/usr/local/bin/batchwatch" || test[2] != "healthcheck" {
		t.Errorf("healthcheck %v: want [CMD /usr/local/bin/batchwatch healthcheck ... URL] (no shell or wget in the image)", test)
	} else {
		u, err := url.Parse(test[len(test)-1])
		if err != nil || u.Path != "/-/ready" {
			t.Errorf("healthcheck %v: want GET /-/ready", test)
		} else if h, pt := hostPort(t, u.Host); h != "127.0.0.1" || pt != port {
			t.Errorf("healthcheck asks %s, the service listens on port %d", u.Host, port)
		}
		webCfg, _ := flagValue(s.Command, "web.config.file")
		if hc, _ := flagValue(test[3:], "web.config.file"); hc != webCfg {
			t.Errorf("healthcheck reads web config %q, the service %q: it breaks once TLS or auth is on", hc, webCfg)
		}
	}
	if !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool { return int(pc.Target) == port }) {
		t.Errorf("port %d is not published", port)
	}
	if exposed == nil || !slices.Contains(strings.Fields(exposed[1]), strconv.Itoa(port)) {
		t.Errorf("port %d is not in the Dockerfile's EXPOSE", port)
	}
	job := "batchwatch-" + s.Command[0]
	if s.Command[0] == "submit" {
		job = "batchwatch-submitter"
	}
	if want := s.Name + ":" + strconv.Itoa(port); !slices.Contains(prom.targets(job), want) {
		t.Errorf("prometheus job %s scrapes %v, not %s", job, prom.targets(job), want)
	}
}

// chUsers is the ClickHouse user of each service and the variable of its
// password (deploy/clickhouse/users.d/batchwatch.xml).
var chUsers = map[string][2]string{
	"migrate":   {"batchwatch_migrate", "CLICKHOUSE_MIGRATE_PASSWORD"},
	"retention": {"batchwatch_migrate", "CLICKHOUSE_MIGRATE_PASSWORD"},
	"ingest":    {"batchwatch_ingest", "CLICKHOUSE_INGEST_PASSWORD"},
	"submitter": {"batchwatch_submitter", "CLICKHOUSE_SUBMITTER_PASSWORD"},
}

// checkClickHouseUser: each service logs in as its own user with the
// password the server has for it, waits for the schema, and only migrate
// and retention may change it.
func checkClickHouseUser(t *testing.T, p *types.Project, s types.ServiceConfig, flags map[string]helpFlag) {
	t.Helper()
	want, ok := chUsers[s.Name]
	if !ok {
		t.Fatalf("%s uses ClickHouse; which user?", s.Name)
	}
	if user, _ := flagValue(s.Command, "clickhouse.user"); user != want[0] {
		t.Errorf("--clickhouse.user=%q, want %s", user, want[0])
	}
	pw := flags["clickhouse.password"].envVar
	server := env(p.Services["clickhouse"], want[1])
	if pw == "" || env(s, pw) == "" || env(s, pw) != server {
		t.Errorf("ClickHouse password: the flag reads $%s, the service sets %q, clickhouse has %s=%q", pw, env(s, pw), want[1], server)
	}
	if want[0] == "batchwatch_migrate" {
		if !slices.Contains(s.GetDependencies(), "clickhouse") && !slices.Contains(s.GetDependencies(), "migrate") {
			t.Error("does not wait for clickhouse")
		}
		return
	}
	if dep, ok := s.DependsOn["migrate"]; !ok || dep.Condition != "service_completed_successfully" {
		t.Errorf("depends on %v: want migrate completed (it runs with --no-migrate)", s.DependsOn)
	}
	if _, ok := flags["no-migrate"]; ok && !slices.Contains(s.Command, "--no-migrate") {
		t.Error("no --no-migrate: its user has no DDL rights")
	}
	if ri, ok := flagValue(s.Command, "retention.interval"); s.Command[0] == "ingest" && (!ok || ri != "0s") {
		t.Errorf("--retention.interval=%q: retention runs in the retention service, with the migration user's rights", ri)
	}
}

// The Dockerfile builds with the Go of go.mod, statically, and its build
// context keeps every package (and embedded file) the binary needs.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(gomod))
	arg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(df)
	if goVersion == nil || arg == nil || arg[1] != goVersion[1] {
		t.Errorf("Dockerfile GO_VERSION %v, go.mod says go %v", arg, goVersion)
	}
	if !regexp.MustCompile(`(?m)^ARG BUILD_IMAGE=golang:\$\{GO_VERSION\}`).MatchString(df) ||
		!regexp.MustCompile(`(?m)^FROM \$\{BUILD_IMAGE\} AS build$`).MatchString(df) {
		t.Error("the builder stage does not default to golang:${GO_VERSION} through ARG BUILD_IMAGE")
	}
	if !regexp.MustCompile(`(?m)^ARG BASE_IMAGE=gcr.io/distroless/static`).MatchString(df) || !regexp.MustCompile(`(?m)^FROM \$\{BASE_IMAGE\}$`).MatchString(df) {
		t.Error("the runtime stage does not default to distroless/static through ARG BASE_IMAGE")
	}
	build := regexp.MustCompile(`CGO_ENABLED=0 go build .*-o (\S+) \./cmd/batchwatch`).FindStringSubmatch(df)
	if build == nil {
		t.Fatal("no `CGO_ENABLED=0 go build ... -o OUT ./cmd/batchwatch` (the runtime image is distroless/static)")
	}
	copyBin := regexp.MustCompile(`(?m)^COPY --from=build ` + regexp.QuoteMeta(build[1]) + ` (\S+)$`).FindStringSubmatch(df)
	if copyBin == nil {
		t.Fatalf("the runtime stage does not copy %s", build[1])
	}
	var entrypoint []string
	if m := regexp.MustCompile(`(?m)^ENTRYPOINT (.+)$`).FindStringSubmatch(df); m != nil {
		_ = json.Unmarshal([]byte(m[1]), &entrypoint)
	}
	if !slices.Equal(entrypoint, []string{copyBin[1]}) {
		t.Errorf("ENTRYPOINT %v, want [%s]: compose gives only the arguments", entrypoint, copyBin[1])
	}
	if !regexp.MustCompile(`(?m)^USER 65532`).MatchString(df) {
		t.Error("the image does not run as the nonroot user")
	}

	// The build context: nothing the binary needs may be ignored.
	ignore, err := os.ReadFile("docker/Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	rootIgnore, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var rootPatterns []string
	for _, l := range strings.Split(string(rootIgnore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rootPatterns = append(rootPatterns, l)
		}
	}
	if !slices.Equal(rootPatterns, patterns) {
		t.Errorf(".dockerignore %v differs from docker/Dockerfile.dockerignore %v (builders without BuildKit read the former)", rootPatterns, patterns)
	}
	for _, secret := range []string{".env", "deploy"} {
		if !slices.Contains(patterns, secret) {
			t.Errorf("the build context keeps %s (passwords, web config)", secret)
		}
	}
	ignored := func(rel string) string {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		for _, pat := range patterns {
			for i := range parts {
				if ok, _ := filepath.Match(pat, strings.Join(parts[:i+1], "/")); ok {
					return pat
				}
			}
		}
		return ""
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if pat := ignored(f); pat != "" {
			t.Errorf("%s is excluded from the build context by %q", f, pat)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, "./cmd/batchwatch")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/batchwatch: %v", err)
	}
	root := repoRoot(t)
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], root+string(filepath.Separator)) {
			continue // a module dependency, downloaded in the image
		}
		for _, f := range fields[1:] {
			rel, _ := filepath.Rel(root, filepath.Join(fields[0], f))
			checked++
			if pat := ignored(rel); pat != "" {
				t.Errorf("%s is needed by the binary but excluded from the build context by %q", rel, pat)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d of the module's files found in go list's output", checked)
	}
}
