// Package store keeps batchwatch's job history in ClickHouse: embedded,
// numbered, idempotent migrations with a version table; column-wise batch
// inserts of events, jobs and attempts; the quarantine; and retention by
// dropping whole partitions.
//
// The schema runs on Debian's ClickHouse 18.16 and on current releases (see
// DEVELOPERS.md): no TTL, DateTime64 or Map.
package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/flags"
)

// Config holds the ClickHouse connection flags.
type Config struct {
	Addrs       []string
	Database    string
	Username    string
	Password    string
	DialTimeout time.Duration
	ReadTimeout time.Duration
	Compression string
	MaxConns    int
	// Secure speaks TLS to ClickHouse's secure native port (9440);
	// CAFile, when set, is the CA bundle that signed the server's
	// certificate (default: the system's roots).
	Secure bool
	CAFile string
	// Cluster, when set, is the ClickHouse cluster (remote_servers) the
	// tables are replicated and sharded on (see cluster.go).
	Cluster string
	// InsertQuorum is the replicas of a shard that must have an insert
	// before it is acknowledged, in cluster mode (0 or 1: one replica).
	InsertQuorum int
}

// AddFlags registers the --clickhouse.* flags.
func AddFlags(fg flags.Group) *Config {
	c := &Config{}
	fg.Flag("clickhouse.addr", "ClickHouse native protocol address (host:port); repeatable.").Default("127.0.0.1:9000").StringsVar(&c.Addrs)
	fg.Flag("clickhouse.database", "Database holding batchwatch's tables (created by migrate).").Default("batchwatch").StringVar(&c.Database)
	fg.Flag("clickhouse.user", "ClickHouse user.").Default("default").StringVar(&c.Username)
	fg.Flag("clickhouse.password", "ClickHouse password.").Envar("CLICKHOUSE_PASSWORD").StringVar(&c.Password)
	fg.Flag("clickhouse.dial-timeout", "Timeout to connect to ClickHouse.").Default("5s").DurationVar(&c.DialTimeout)
	fg.Flag("clickhouse.read-timeout", "Timeout for one ClickHouse request (insert or query).").Default("60s").DurationVar(&c.ReadTimeout)
	fg.Flag("clickhouse.compression", "Compression of the native protocol: none or lz4 (lz4 saves network, costs CPU).").Default("none").EnumVar(&c.Compression, "none", "lz4")
	fg.Flag("clickhouse.max-conns", "Maximum open connections.").Default("8").IntVar(&c.MaxConns)
	fg.Flag("clickhouse.secure", "TLS to ClickHouse (its tcp_port_secure, usually 9440).").BoolVar(&c.Secure)
	fg.Flag("clickhouse.ca-file", "CA certificates (PEM) to verify ClickHouse's TLS certificate (default: the system's); implies --clickhouse.secure.").PlaceHolder("FILE").StringVar(&c.CAFile)
	fg.Flag("clickhouse.cluster", "ClickHouse cluster (remote_servers name) to run on: replicated local tables and Distributed tables ON CLUSTER; empty for one server.").Default("").StringVar(&c.Cluster)
	fg.Flag("clickhouse.insert-quorum", "In cluster mode, replicas of a shard that must have an insert before it is acknowledged (insert_quorum; 0 or 1 for one). Set it to the replicas per shard.").Default("2").IntVar(&c.InsertQuorum)
	return c
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Store is a ClickHouse connection bound to batchwatch's database.
type Store struct {
	conn    driver.Conn
	db      string
	cluster string
	log     *logrus.Entry
}

// Open connects (lazily: the driver dials on first use) and checks the
// database name.
func Open(c *Config, log *logrus.Entry) (*Store, error) {
	if !identRE.MatchString(c.Database) {
		return nil, fmt.Errorf("clickhouse database name %q: use letters, digits and underscores", c.Database)
	}
	settings, err := connSettings(c)
	if err != nil {
		return nil, err
	}
	opts := &clickhouse.Options{
		Addr: c.Addrs,
		// Every query names its database; the session's is "system", which
		// every user may use on 18.16 (users limited to batchwatch by
		// allow_databases are refused "default"), and which exists before
		// migrate creates batchwatch.
		Auth: clickhouse.Auth{Database: "system", Username: c.Username, Password: c.Password},
		// Sent with every query (connSettings); current servers accept the
		// LowCardinality one as obsolete.
		Settings:     settings,
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		MaxOpenConns: c.MaxConns,
		MaxIdleConns: c.MaxConns,
	}
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.TLS = tlsCfg
	if c.Compression == "lz4" {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return &Store{conn: conn, db: c.Database, cluster: c.Cluster, log: log}, nil
}

// connSettings are sent with every query. In cluster mode an insert into a
// Distributed table returns only once every shard's part is written
// (insert_distributed_sync) on InsertQuorum replicas (insert_quorum), so
// acknowledging SQS messages after it keeps its meaning. (IN and JOIN
// subqueries on Distributed tables need distributed_product_mode = local in
// the user's profile on the servers, see docs/cluster.md: 18.16's protocol
// takes only integer settings from clients.)
func connSettings(c *Config) (clickhouse.Settings, error) {
	// allow_experimental_low_cardinality_type: current servers accept it as obsolete.
	set := clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}
	if c.Cluster == "" {
		return set, nil
	}
	if !identRE.MatchString(c.Cluster) {
		return nil, fmt.Errorf("clickhouse cluster name %q: use letters, digits and underscores", c.Cluster)
	}
	if c.InsertQuorum < 0 {
		return nil, fmt.Errorf("clickhouse insert quorum %d is negative", c.InsertQuorum)
	}
	set["insert_distributed_sync"] = 1
	// 18.16 fails "SELECT ... FROM t FINAL ORDER BY ..." on a Distributed
	// table ("Cannot find column ... in source stream") when it reads the
	// local shard in-process; through the loopback connection it works.
	set["prefer_localhost_replica"] = 0
	if c.InsertQuorum > 1 {
		set["insert_quorum"] = c.InsertQuorum
	}
	return set, nil
}

// Cluster is the cluster name, empty for one server.
func (s *Store) Cluster() string { return s.cluster }

// LocalTable is the qualified table holding a shard's rows: name_local in
// cluster mode, the table itself on one server. Statements that Distributed
// tables refuse (OPTIMIZE, ALTER ... DELETE, partitions) go to it, with
// OnCluster.
func (s *Store) LocalTable(name string) string {
	if s.cluster == "" {
		return s.Table(name)
	}
	return s.Table(name + "_local")
}

// OnCluster is " ON CLUSTER name" in cluster mode, empty otherwise.
func (s *Store) OnCluster() string {
	if s.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + s.cluster
}

// SystemTable is system.name on one server, and system.name of one
// replica of every shard (the cluster table function) in cluster mode.
func (s *Store) SystemTable(name string) string {
	if s.cluster == "" {
		return "system." + name
	}
	return "cluster('" + s.cluster + "', system, " + name + ")"
}

// tlsConfig is nil without --clickhouse.secure or --clickhouse.ca-file.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if !c.Secure && c.CAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse CA file %s: no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Conn exposes the connection for queries (docs tests, submitter journal).
func (s *Store) Conn() driver.Conn { return s.conn }

// Database is the database name.
func (s *Store) Database() string { return s.db }

// Table returns the qualified name of a table in the database.
func (s *Store) Table(name string) string { return s.db + "." + name }

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// ServerVersion returns the server's version string.
func (s *Store) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }
