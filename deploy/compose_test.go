package deploy

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/sim"
)

// Without queue URLs the stack must refuse to start rather than run ingest
// and the exporter against nothing.
func TestComposeRequiresQueueURLs(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "passwords.env")
	if err := os.WriteFile(envFile, []byte(awsPasswords), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadComposeFile(t, envFile)
	if err == nil {
		t.Fatal("docker-compose.yml loaded without BATCHWATCH_INGEST_QUEUE_URL and BATCHWATCH_EXPORTER_QUEUE_URL")
	}
	if !strings.Contains(err.Error(), "BATCHWATCH_INGEST_QUEUE_URL") && !strings.Contains(err.Error(), "BATCHWATCH_EXPORTER_QUEUE_URL") {
		t.Fatalf("the error does not name the missing variable: %v", err)
	}
}

// No default passwords: aws.env.example as shipped (passwords empty) is
// refused naming a password, and every password in the file is ${VAR:?}.
func TestComposeRequiresPasswords(t *testing.T) {
	_, err := loadComposeFile(t, filepath.Join(deployDir(t), awsEnvFile))
	if err == nil || !strings.Contains(err.Error(), "PASSWORD") {
		t.Fatalf("aws.env.example without passwords: %v, want a missing password", err)
	}
	data, err := os.ReadFile(composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`\$\{([A-Z_]*PASSWORD)(:?[-?])?`).FindAllStringSubmatch(string(data), -1)
	if len(refs) < 5 {
		t.Fatalf("found only %d password references", len(refs))
	}
	for _, m := range refs {
		// The healthchecks' client password is only needed with a web
		// config; it guards nothing by itself.
		if m[1] == "BATCHWATCH_HEALTHCHECK_PASSWORD" {
			continue
		}
		if m[2] != ":?" {
			t.Errorf("${%s%s...}: passwords are required (${%s:?...}), never defaulted", m[1], m[2], m[1])
		}
	}
	demo := mustLoadCompose(t, demoEnvFile)
	for _, k := range []string{"CLICKHOUSE_MIGRATE_PASSWORD", "CLICKHOUSE_INGEST_PASSWORD", "CLICKHOUSE_SUBMITTER_PASSWORD", "CLICKHOUSE_GRAFANA_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} {
		if v := demo.Environment[k]; v == "" || v == "admin" || v == "batchwatch" {
			t.Errorf("demo.env: %s=%q, want a password of the demo's own", k, v)
		}
	}
}

// Each component runs with its own AWS identity: its own keys, its own role.
func TestComposeOneIdentityPerComponent(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "ids.env")
	var ids strings.Builder
	ids.WriteString(awsPasswords + "BATCHWATCH_INGEST_QUEUE_URL=https://q/i\nBATCHWATCH_EXPORTER_QUEUE_URL=https://q/e\n")
	for _, c := range []string{"INGEST", "EXPORTER", "SUBMITTER"} {
		ids.WriteString(c + "_AWS_ACCESS_KEY_ID=key-" + c + "\n" + c + "_AWS_SECRET_ACCESS_KEY=secret-" + c + "\n")
		ids.WriteString("BATCHWATCH_" + c + "_ROLE_ARN=arn:aws:iam::1:role/" + c + "\n")
	}
	if err := os.WriteFile(envFile, []byte(ids.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loadComposeFile(t, envFile, "*")
	if err != nil {
		t.Fatal(err)
	}
	aws := map[string]string{"ingest": "INGEST", "exporter": "EXPORTER", "submitter": "SUBMITTER"}
	for name, c := range aws {
		s := p.Services[name]
		if got := env(s, "AWS_ACCESS_KEY_ID"); got != "key-"+c {
			t.Errorf("%s: AWS_ACCESS_KEY_ID=%q, want its own (%s_AWS_ACCESS_KEY_ID)", name, got, c)
		}
		if got := env(s, "AWS_SECRET_ACCESS_KEY"); got != "secret-"+c {
			t.Errorf("%s: AWS_SECRET_ACCESS_KEY=%q, want its own", name, got)
		}
		if role, _ := flagValue(s.Command, "aws.role-arn"); role != "arn:aws:iam::1:role/"+c {
			t.Errorf("%s: --aws.role-arn=%q, want BATCHWATCH_%s_ROLE_ARN", name, role, c)
		}
	}
	for _, name := range p.ServiceNames() {
		if _, ok := aws[name]; ok {
			continue
		}
		if v := env(p.Services[name], "AWS_ACCESS_KEY_ID"); v != "" {
			t.Errorf("%s has AWS credentials (%s); it calls no AWS API", name, v)
		}
	}
}

// The no-top-level-name rule: docker-compose 1.29 rejects `name:`.
func TestComposeHasNoTopLevelName(t *testing.T) {
	data, err := os.ReadFile(composeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["name"]; ok {
		t.Fatal("docker-compose.yml has a top-level name: docker-compose 1.29 rejects it (the env files set COMPOSE_PROJECT_NAME)")
	}
	for _, f := range []string{awsEnvFile, demoEnvFile} {
		p := mustLoadCompose(t, f)
		if p.Name != "batchwatch" {
			t.Errorf("%s: project name %q, want batchwatch (COMPOSE_PROJECT_NAME)", f, p.Name)
		}
	}
}

// Against AWS: the core services only, the SDK's endpoint, the env file's
// region and queue URLs.
func TestComposeAgainstAWS(t *testing.T) {
	p := mustLoadCompose(t, awsEnvFile)
	got := p.ServiceNames()
	slices.Sort(got)
	want := []string{"alertmanager", "clickhouse", "exporter", "grafana", "ingest", "migrate", "prometheus", "retention"}
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v (sim and submitter only with their profiles)", got, want)
	}
	region := p.Environment["AWS_REGION"]
	if region == "" {
		t.Fatalf("%s sets no AWS_REGION", awsEnvFile)
	}
	queues := map[string]string{"ingest": "sqs.queue-url", "exporter": "exporter.sqs-queue-url"}
	vars := map[string]string{"ingest": "BATCHWATCH_INGEST_QUEUE_URL", "exporter": "BATCHWATCH_EXPORTER_QUEUE_URL"}
	seen := map[string]string{}
	for name, flag := range queues {
		s := p.Services[name]
		if e := env(s, "AWS_ENDPOINT_URL"); e != "" {
			t.Errorf("%s: AWS_ENDPOINT_URL=%q against AWS, want empty", name, e)
		}
		if r := env(s, "AWS_REGION"); r != region {
			t.Errorf("%s: AWS_REGION=%q, want the env file's %q", name, r, region)
		}
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			if _, ok := s.Environment[k]; !ok {
				t.Errorf("%s: %s is not passed to the container", name, k)
			}
		}
		q, ok := flagValue(s.Command, flag)
		if !ok {
			t.Fatalf("%s: no --%s in %v", name, flag, s.Command)
		}
		if q != p.Environment[vars[name]] {
			t.Errorf("%s: --%s=%s, want %s from %s", name, flag, q, vars[name], awsEnvFile)
		}
		u, err := url.Parse(q)
		if err != nil || u.Scheme != "https" || u.Host != "sqs."+region+".amazonaws.com" {
			t.Errorf("%s: queue URL %q is not an SQS URL of region %s", name, q, region)
		}
		if other, dup := seen[q]; dup {
			t.Errorf("%s and %s read the same queue %s: each would see only part of the events", name, other, q)
		}
		seen[q] = name
	}
}

// The demo: the simulator runs, ingest and the exporter reach it through
// AWS_ENDPOINT_URL only, each on its own queue of the scenario.
func TestComposeDemo(t *testing.T) {
	p := mustLoadCompose(t, demoEnvFile)
	s, ok := p.Services["sim"]
	if !ok {
		t.Fatalf("%s does not enable the sim service (COMPOSE_PROFILES=demo); services %v", demoEnvFile, p.ServiceNames())
	}
	if _, ok := p.Services["submitter"]; ok {
		t.Error("the demo starts the submitter; it has its own profile")
	}
	listen, ok := flagValue(s.Command, "listen")
	if !ok {
		t.Fatal("sim: no --listen; its default 127.0.0.1:4566 is unreachable from the other containers")
	}
	host, port := hostPort(t, listen)
	if host != "0.0.0.0" && host != "" {
		t.Errorf("sim listens on %s: unreachable from the other containers", listen)
	}
	scenarioName, _ := flagValue(s.Command, "scenario")
	if scenarioName != "zendesk-day" {
		t.Errorf("sim scenario %q, want zendesk-day", scenarioName)
	}
	sc, err := sim.LoadScenario(scenarioName)
	if err != nil {
		t.Fatalf("sim --scenario %s: %v", scenarioName, err)
	}
	delivered := map[string]bool{}
	for _, d := range sc.Delivery {
		if d.Type == "queue" {
			delivered[d.Queue] = true
		}
	}

	seen := map[string]string{}
	for name, flag := range map[string]string{"ingest": "sqs.queue-url", "exporter": "exporter.sqs-queue-url"} {
		svc := p.Services[name]
		ep := env(svc, "AWS_ENDPOINT_URL")
		if h, pt := hostPort(t, ep); h != "sim" || pt != port {
			t.Errorf("%s: AWS_ENDPOINT_URL=%q, want http://sim:%d", name, ep, port)
		}
		if env(svc, "AWS_ACCESS_KEY_ID") == "" || env(svc, "AWS_SECRET_ACCESS_KEY") == "" {
			t.Errorf("%s: no credentials in the demo (the SDK would look for an instance role)", name)
		}
		for _, a := range svc.Command {
			if strings.HasPrefix(a, "--aws.endpoint-url") {
				t.Errorf("%s: %s; the demo must point at the simulator the AWS way (AWS_ENDPOINT_URL)", name, a)
			}
		}
		q, ok := flagValue(svc.Command, flag)
		if !ok {
			t.Fatalf("%s: no --%s", name, flag)
		}
		u, err := url.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h, pt := hostPort(t, q); h != "sim" || pt != port {
			t.Errorf("%s: queue URL %s is not on the simulator (sim:%d)", name, q, port)
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 2 || parts[0] != sc.Account || !delivered[parts[1]] {
			t.Errorf("%s: queue URL %s: want /%s/<one of the scenario's queues %v>", name, q, sc.Account, delivered)
			continue
		}
		if other, dup := seen[parts[1]]; dup {
			t.Errorf("%s and %s read the same queue %s: each would see only part of the events", name, other, parts[1])
		}
		seen[parts[1]] = name
	}
}

// Every service restarts, has a healthcheck, publishes on localhost only,
// mounts files that exist and volumes that are declared; optional services
// are nobody's dependency.
func TestComposeServices(t *testing.T) {
	for _, f := range []string{awsEnvFile, demoEnvFile} {
		t.Run(f, func(t *testing.T) {
			p := mustLoadCompose(t, f, "*")
			for _, name := range []string{"clickhouse", "prometheus", "alertmanager", "grafana", "ingest", "exporter", "submitter", "sim"} {
				if _, ok := p.Services[name]; !ok {
					t.Errorf("no service %s", name)
				}
			}
			used := map[string]bool{}
			for _, name := range p.ServiceNames() {
				s := p.Services[name]
				wantRestart := "unless-stopped"
				if name == "migrate" {
					wantRestart = "on-failure" // one shot
				}
				if s.Restart != wantRestart {
					t.Errorf("%s: restart %q, want %s", name, s.Restart, wantRestart)
				}
				if noHealthcheck[name] {
					if s.HealthCheck == nil || !s.HealthCheck.Disable {
						t.Errorf("%s serves no HTTP: its healthcheck should be disabled, not inherited", name)
					}
				} else if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
					t.Errorf("%s: no healthcheck", name)
				}
				checkHardening(t, s)
				for _, port := range s.Ports {
					if port.HostIP != "127.0.0.1" {
						t.Errorf("%s: port %d published on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
					}
				}
				for _, v := range s.Volumes {
					switch v.Type {
					case types.VolumeTypeVolume:
						if _, ok := p.Volumes[v.Source]; !ok {
							t.Errorf("%s: volume %s is not declared", name, v.Source)
						}
						used[v.Source] = true
					case types.VolumeTypeBind:
						if _, err := os.Stat(v.Source); err != nil {
							t.Errorf("%s: bind mount source: %v", name, err)
						}
						if !v.ReadOnly {
							t.Errorf("%s: bind mount %s is writable; configuration is mounted read-only", name, v.Source)
						}
					default:
						t.Errorf("%s: volume type %s", name, v.Type)
					}
				}
				if s.Build != nil {
					if s.Build.Context != repoRoot(t) {
						t.Errorf("%s: build context %s, want the repository root", name, s.Build.Context)
					}
					if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
						t.Errorf("%s: dockerfile: %v", name, err)
					}
				}
				for dep := range s.DependsOn {
					if len(p.Services[dep].Profiles) > 0 {
						t.Errorf("%s depends on %s, which only runs with a profile", name, dep)
					}
					if _, ok := p.Services[dep]; !ok {
						t.Errorf("%s depends on unknown service %s", name, dep)
					}
				}
			}
			for v := range p.Volumes {
				if !used[v] {
					t.Errorf("volume %s is declared but not used", v)
				}
			}
			for _, s := range batchwatchServices(p) {
				if s.Build == nil {
					t.Errorf("%s: runs %s without a build section", s.Name, batchwatchImage)
				}
				if len(s.Entrypoint) > 0 {
					t.Errorf("%s: overrides the image's entrypoint", s.Name)
				}
			}
			if n := len(batchwatchServices(p)); n != 6 {
				t.Errorf("%d services run %s, want 6 (migrate, retention, ingest, exporter, submitter, sim)", n, batchwatchImage)
			}
		})
	}
}

// noHealthcheck are the services without an HTTP endpoint: the one-shot
// migrate and the retention loop.
var noHealthcheck = map[string]bool{"migrate": true, "retention": true}

// writableRoot are the images that write outside their volumes: ClickHouse
// (preprocessed configs, logs under /var/log) and Grafana (plugins install).
var writableRoot = map[string]bool{"clickhouse": true, "grafana": true}

// checkHardening: memory limit, rotated logs, no privilege gain, a read-only
// root file system where the image allows, a pinned image, no lifecycle API.
func checkHardening(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	if s.MemLimit <= 0 {
		t.Errorf("%s: no mem_limit", s.Name)
	}
	if s.Logging == nil || s.Logging.Driver != "json-file" || s.Logging.Options["max-size"] == "" || s.Logging.Options["max-file"] == "" {
		t.Errorf("%s: logging %+v, want json-file with max-size and max-file", s.Name, s.Logging)
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("%s: security_opt %v, want no-new-privileges:true", s.Name, s.SecurityOpt)
	}
	if s.ReadOnly == writableRoot[s.Name] {
		t.Errorf("%s: read_only %v, want %v", s.Name, s.ReadOnly, !writableRoot[s.Name])
	}
	if s.Image != batchwatchImage && !regexp.MustCompile(`:v?\d+\.\d+\.\d+`).MatchString(s.Image) {
		t.Errorf("%s: image %s is not pinned to a full version", s.Name, s.Image)
	}
	for _, a := range s.Command {
		if strings.Contains(a, "enable-lifecycle") {
			t.Errorf("%s: %s lets anyone reaching the port stop or reload it", s.Name, a)
		}
	}
}

// bindTarget returns where a service mounts the given folder of deploy/.
func bindTarget(t testing.TB, s types.ServiceConfig, rel string) string {
	t.Helper()
	src := filepath.Join(deployDir(t), rel)
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == src {
			return v.Target
		}
	}
	t.Fatalf("%s does not mount %s", s.Name, rel)
	return ""
}

// The Grafana provisioning's paths, datasource hosts, plugin and password
// all agree with the compose services.
func TestComposeGrafanaProvisioning(t *testing.T) {
	p := mustLoadCompose(t, demoEnvFile)
	g := p.Services["grafana"]
	if got := bindTarget(t, g, "grafana/provisioning"); got != "/etc/grafana/provisioning" {
		t.Errorf("provisioning mounted at %s, want /etc/grafana/provisioning", got)
	}

	var dashProv struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/batchwatch.yml", &dashProv)
	if len(dashProv.Providers) != 1 {
		t.Fatalf("%d dashboard providers, want 1", len(dashProv.Providers))
	}
	if got, want := bindTarget(t, g, "grafana/dashboards"), dashProv.Providers[0].Options.Path; got != want {
		t.Errorf("dashboards mounted at %s, the provider reads %s", got, want)
	}
	if m, _ := filepath.Glob("grafana/dashboards/*.json"); len(m) == 0 {
		t.Error("no dashboards in grafana/dashboards")
	}

	var ds struct {
		Datasources []struct {
			Name     string         `yaml:"name"`
			Type     string         `yaml:"type"`
			URL      string         `yaml:"url"`
			JSONData map[string]any `yaml:"jsonData"`
			Secure   map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/batchwatch.yml", &ds)
	var plugins []string // ids; an entry is "id" or "id version"
	for _, p := range strings.Split(env(g, "GF_INSTALL_PLUGINS"), ",") {
		if f := strings.Fields(p); len(f) > 0 {
			plugins = append(plugins, f[0])
		}
	}
	for _, d := range ds.Datasources {
		var host string
		var port int
		switch d.Type {
		case "prometheus":
			host, port = hostPort(t, d.URL)
		case "grafana-clickhouse-datasource":
			if !slices.Contains(plugins, d.Type) {
				t.Errorf("datasource %s needs plugin %s; GF_INSTALL_PLUGINS=%v", d.Name, d.Type, plugins)
			}
			host, _ = d.JSONData["host"].(string)
			if server, _ := d.JSONData["server"].(string); server != host {
				t.Errorf("datasource %s: host %q and server %q differ", d.Name, host, server)
			}
			n, _ := d.JSONData["port"].(int)
			port = n
			if d.JSONData["protocol"] == "native" && port != 9000 {
				t.Errorf("datasource %s: native protocol on port %d", d.Name, port)
			}
		default:
			t.Errorf("datasource %s: unexpected type %s", d.Name, d.Type)
			continue
		}
		if _, ok := p.Services[host]; !ok {
			t.Errorf("datasource %s: host %q is no compose service", d.Name, host)
		}
		if !slices.Contains(thirdPartyPorts[host], port) {
			t.Errorf("datasource %s: %s serves on %v, not %d", d.Name, host, thirdPartyPorts[host], port)
		}
		if !slices.Contains(g.GetDependencies(), host) {
			t.Errorf("grafana does not wait for %s", host)
		}
	}

	// Grafana reads ClickHouse as the read-only batchwatch_grafana user,
	// with the password the server has for it.
	want := env(p.Services["clickhouse"], "CLICKHOUSE_GRAFANA_PASSWORD")
	if want == "" || env(g, "CLICKHOUSE_GRAFANA_PASSWORD") != want {
		t.Errorf("grafana: CLICKHOUSE_GRAFANA_PASSWORD %q, clickhouse has %q", env(g, "CLICKHOUSE_GRAFANA_PASSWORD"), want)
	}
	for _, d := range ds.Datasources {
		if d.Type != "grafana-clickhouse-datasource" {
			continue
		}
		if d.JSONData["username"] != "batchwatch_grafana" || d.Secure["password"] != "${CLICKHOUSE_GRAFANA_PASSWORD}" {
			t.Errorf("datasource %s: user %v, password %v; want batchwatch_grafana and ${CLICKHOUSE_GRAFANA_PASSWORD}", d.Name, d.JSONData["username"], d.Secure["password"])
		}
	}
}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// promConfig is the part of prometheus.yml the tests read.
type promConfig struct {
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// targets returns a job's targets as host:port (DNS names with their port).
func (c promConfig) targets(job string) []string {
	var out []string
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName != job {
			continue
		}
		for _, s := range sc.StaticConfigs {
			out = append(out, s.Targets...)
		}
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				out = append(out, n+":"+strconv.Itoa(d.Port))
			}
		}
	}
	return out
}

func loadPromConfig(t testing.TB) promConfig {
	t.Helper()
	var c promConfig
	readYAML(t, "prometheus/prometheus.yml", &c)
	return c
}

// The scrape jobs the rules select exist and point at compose services; the
// rule files and the Alertmanager are where Prometheus will look for them.
func TestPrometheusConfig(t *testing.T) {
	c := loadPromConfig(t)
	p := mustLoadCompose(t, demoEnvFile, "*")

	rules, err := os.ReadFile("prometheus/rules/batchwatch.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	selected := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bjob="([^"]+)"`).FindAllStringSubmatch(string(rules), -1) {
		selected[m[1]] = true
	}
	for _, want := range []string{"batchwatch-exporter", "batchwatch-ingest"} {
		if !selected[want] {
			t.Errorf("the rules no longer select job=%q; update this test and prometheus.yml together", want)
		}
	}
	for job := range selected {
		if len(c.targets(job)) == 0 {
			t.Errorf("the rules select job=%q, prometheus.yml has no such scrape job (or no target)", job)
		}
	}
	for _, sc := range c.ScrapeConfigs {
		for _, target := range c.targets(sc.JobName) {
			host, port := hostPort(t, target)
			if host == "localhost" && sc.JobName == "prometheus" {
				continue
			}
			if _, ok := p.Services[host]; !ok {
				t.Errorf("job %s: target %s is no compose service", sc.JobName, target)
				continue
			}
			if ports, ok := thirdPartyPorts[host]; ok && !slices.Contains(ports, port) {
				t.Errorf("job %s: %s serves on %v, not %d", sc.JobName, host, ports, port)
			}
		}
	}

	// rule_files are relative to the configuration file, mounted with its folder.
	prom := p.Services["prometheus"]
	cfgFile, ok := flagValue(prom.Command, "config.file")
	if !ok {
		t.Fatal("prometheus: no --config.file")
	}
	if got := bindTarget(t, prom, "prometheus"); got != filepath.Dir(cfgFile) || filepath.Base(cfgFile) != "prometheus.yml" {
		t.Errorf("prometheus reads %s, ./prometheus is mounted at %s", cfgFile, got)
	}
	matched := map[string]bool{}
	for _, g := range c.RuleFiles {
		m, err := filepath.Glob(filepath.Join("prometheus", g))
		if err != nil || len(m) == 0 {
			t.Errorf("rule_files %q matches nothing in prometheus/", g)
		}
		for _, f := range m {
			matched[f] = true
		}
	}
	if !matched[filepath.Join("prometheus", "rules", "batchwatch.rules.yml")] {
		t.Error("rule_files do not load rules/batchwatch.rules.yml")
	}

	var ams []string
	for _, am := range c.Alerting.Alertmanagers {
		for _, s := range am.StaticConfigs {
			ams = append(ams, s.Targets...)
		}
	}
	if !slices.Equal(ams, []string{"alertmanager:9093"}) {
		t.Errorf("alertmanagers %v, want [alertmanager:9093]", ams)
	}
	am := p.Services["alertmanager"]
	amCfg, _ := flagValue(am.Command, "config.file")
	if got := bindTarget(t, am, "alertmanager"); got != filepath.Dir(amCfg) {
		t.Errorf("alertmanager reads %s, ./alertmanager is mounted at %s", amCfg, got)
	}
	if _, err := os.Stat(filepath.Join("alertmanager", filepath.Base(amCfg))); err != nil {
		t.Errorf("alertmanager --config.file: %v", err)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool := requireTool(t, "promtool", "scripts/install.sh prometheus")
	if out, err := run(deployDir(t), promtool, "check", "config", "prometheus/prometheus.yml"); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := requireTool(t, "amtool", "scripts/install.sh prometheus")
	if out, err := run(deployDir(t), amtool, "check-config", "alertmanager/alertmanager.yml"); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

// Debian's docker-compose 1.29 validates the root file offline with either
// env file, and refuses it without the queue URLs and passwords.
func TestDockerComposeConfig(t *testing.T) {
	dc := requireTool(t, "docker-compose", "scripts/install.sh compose")
	compose := func(envFile string) (string, error) {
		cmd := exec.Command(dc, "--env-file", envFile, "-f", "docker-compose.yml", "config", "-q")
		cmd.Dir = repoRoot(t)
		// Only the env file decides; this process's environment must not.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, f := range []string{awsEnvFile, demoEnvFile} {
		if out, err := compose(envPath(t, f)); err != nil {
			t.Errorf("docker-compose --env-file %s config -q: %v\n%s", f, err, out)
		}
	}
	out, err := compose(envPath(t, ""))
	if err == nil || !regexp.MustCompile(`BATCHWATCH_(INGEST|EXPORTER)_QUEUE_URL|PASSWORD`).MatchString(out) {
		t.Errorf("docker-compose config without queue URLs and passwords: err %v, want a missing variable named\n%s", err, out)
	}
	out, err = compose(filepath.Join(deployDir(t), awsEnvFile))
	if err == nil || !strings.Contains(out, "PASSWORD") {
		t.Errorf("docker-compose config with aws.env.example's empty passwords: err %v\n%s", err, out)
	}
}

// The documented scrape configuration for TLS and basic auth is valid and
// keeps the job names the rules select.
func TestPromtoolCheckWebScrapeConfig(t *testing.T) {
	promtool := requireTool(t, "promtool", "scripts/install.sh prometheus")
	dir := t.TempDir()
	data, err := os.ReadFile("prometheus/web-config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	// promtool checks that the CA and password files exist: make them.
	cfg := strings.ReplaceAll(string(data), "/etc/batchwatch/web/", dir+"/")
	for _, f := range []string{"ca.crt", "prometheus.password"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dir, promtool, "check", "config", "--syntax-only", file); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	for _, job := range []string{"batchwatch-exporter", "batchwatch-ingest"} {
		if !strings.Contains(cfg, "job_name: "+job+"\n    scheme: https") {
			t.Errorf("job %s is not scraped over https", job)
		}
	}
}
