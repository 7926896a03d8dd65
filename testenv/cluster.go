package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
)

// Cluster is the 2-shard x 2-replica ClickHouse cluster of
// scripts/services.sh (ZooKeeper and servers cluster1..cluster4; shard 1 is
// replicas 1 and 2, shard 2 is 3 and 4).
type Cluster struct {
	t        testing.TB
	env      []string
	root     string
	Name     string
	User     string
	Password string
	Addrs    []string // native addresses of cluster1..cluster4
}

// StartCluster returns the cluster the test runs on. With
// BATCHWATCH_CLUSTER_ADDRS set (scripts/services.sh addrs) it uses those
// servers, started by scripts/services.sh start cluster with the same
// environment (BATCHWATCH_RUN_DIR, CLUSTER_* variables), which Kill and
// Start then use too. Otherwise it starts its own ZooKeeper and four
// servers on free ports in a temporary folder and stops them at the end.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, root: RepoRoot(t), Name: env("CLUSTER_NAME", "batchwatch"), User: "batchwatch", Password: env("CLUSTER_PASSWORD", "batchwatch")}
	if addrs := os.Getenv("BATCHWATCH_CLUSTER_ADDRS"); addrs != "" {
		c.Addrs = strings.Split(addrs, ",")
		c.env = os.Environ()
		c.check()
		return c
	}
	base := freePortRange(t, 40)
	c.env = append(os.Environ(),
		"BATCHWATCH_RUN_DIR="+t.TempDir(),
		"CLUSTER_BASE_PORT="+strconv.Itoa(base),
		"ZOOKEEPER_PORT="+strconv.Itoa(base+39),
		"CLUSTER_NAME="+c.Name, "CLUSTER_PASSWORD="+c.Password)
	for i := range 4 {
		c.Addrs = append(c.Addrs, fmt.Sprintf("127.0.0.1:%d", base+10*i))
	}
	t.Cleanup(func() { c.run("stop", "cluster") })
	t.Cleanup(func() {
		if t.Failed() {
			for i := range 4 {
				p := filepath.Join(c.runDir(), fmt.Sprintf("cluster%d", i+1), "log", "clickhouse-server.err.log")
				t.Logf("last lines of cluster%d's error log (%s):\n%s", i+1, p, tail(p, 15))
			}
		}
	})
	c.run("start", "cluster")
	c.check()
	return c
}

// freePortRange finds n consecutive ports free on 127.0.0.1 right now.
func freePortRange(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(12000) // below Linux's ephemeral ports (32768-)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

func (c *Cluster) run(action string, names ...string) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.root, "scripts", "services.sh"), append([]string{action}, names...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("services.sh %s %v: %v\n%s", action, names, err, out)
	}
}

// check fails the test unless every server answers and reaches ZooKeeper
// (distributed DDL and replication need its session) within 30 s.
func (c *Cluster) check() {
	c.t.Helper()
	for i := range c.Addrs {
		s := c.Server(i)
		var err error
		for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(200 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var n uint64
			err = s.Conn().QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
			cancel()
			if err == nil {
				break
			}
		}
		_ = s.Close()
		if err != nil {
			c.t.Fatalf("cluster server %s does not answer or reach ZooKeeper (scripts/services.sh start cluster): %v", c.Addrs[i], err)
		}
	}
}

// Config is a store config in cluster mode for a fresh database, dropped on
// every server when the test ends. Any server serves as the entry point.
func (c *Cluster) Config(t testing.TB) *store.Config {
	t.Helper()
	cfg := &store.Config{
		Addrs: c.Addrs, Database: UniqueName("bwcl_" + sanitize(t.Name())),
		Username: c.User, Password: c.Password, DialTimeout: 5 * time.Second, ReadTimeout: 120 * time.Second,
		Compression: "none", MaxConns: 8, Cluster: c.Name, InsertQuorum: 2,
	}
	t.Cleanup(func() {
		if os.Getenv("BATCHWATCH_KEEP_DB") != "" {
			return
		}
		s := c.Server(0)
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database+" ON CLUSTER "+c.Name)
	})
	return cfg
}

// Server opens a plain (not cluster-mode) connection to server i (0-3),
// for looking at one replica's local tables.
func (c *Cluster) Server(i int) *store.Store {
	c.t.Helper()
	s, err := store.Open(&store.Config{
		Addrs: []string{c.Addrs[i]}, Database: "default", Username: c.User, Password: c.Password,
		DialTimeout: 5 * time.Second, ReadTimeout: 120 * time.Second, Compression: "none", MaxConns: 2,
	}, logging.Discard().WithField("server", c.Addrs[i]))
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// Kill sends SIGKILL to server i (0-3), by the PID services.sh recorded.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.runDir(), fmt.Sprintf("cluster%d.pid", i+1)))
	if err != nil {
		c.t.Fatalf("pid of cluster%d: %v", i+1, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		c.t.Fatalf("pid of cluster%d: %v", i+1, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill cluster%d: %v", i+1, err)
	}
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runDir is services.sh's folder of PID files and server folders.
func (c *Cluster) runDir() string {
	dir := ""
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "BATCHWATCH_RUN_DIR="); ok {
			dir = v
		}
	}
	if dir == "" {
		dir = filepath.Join(c.root, ".run")
	}
	return dir
}

// Start starts server i (0-3) again and waits until it answers.
func (c *Cluster) Start(i int) { c.run("start", fmt.Sprintf("cluster%d", i+1)) }
