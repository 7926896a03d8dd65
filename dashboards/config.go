package dashboards

import (
	"errors"
	"regexp"
)

// Config holds the few deployment choices the dashboards depend on. The
// zero value is not useful: start from DefaultConfig.
type Config struct {
	// ClickHouseDatabase is the default of the hidden `database` variable
	// the job-history queries read from (ingest's --clickhouse.database).
	ClickHouseDatabase string
	// CostTagKeys are the cost-allocation tag keys the exporter turns into
	// tag_<key> labels and ingest keeps in tag_keys/tag_values; they are the
	// choices of the `cost_tag` variable, the first one selected.
	CostTagKeys []string
	// TierTag is the job tag that holds the size tier (the exporter's tier
	// label comes from it); the job-history queries read it from tag_keys.
	TierTag string
	// Refresh is the dashboards' auto-refresh interval.
	Refresh string
	// Tags are the Grafana tags every dashboard carries (dashboard links
	// use them to list the others).
	Tags []string
}

// DefaultConfig is the configuration the committed JSON is generated with.
func DefaultConfig() Config {
	return Config{
		ClickHouseDatabase: "batchwatch",
		CostTagKeys:        []string{"team", "product"},
		TierTag:            "tier",
		Refresh:            "1m",
		Tags:               []string{"batchwatch", "aws-batch"},
	}
}

var (
	tagKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dbRE     = tagKeyRE
)

// Validate rejects values that would break the generated queries: tag keys
// end up in label names (tag_<key>) and SQL literals, the database in SQL.
func (c Config) Validate() error {
	if !dbRE.MatchString(c.ClickHouseDatabase) {
		return errors.New("dashboards config: ClickHouseDatabase must be letters, digits and underscores")
	}
	if len(c.CostTagKeys) == 0 {
		return errors.New("dashboards config: at least one cost tag key is needed")
	}
	for _, k := range append([]string{c.TierTag}, c.CostTagKeys...) {
		if !tagKeyRE.MatchString(k) {
			return errors.New("dashboards config: tag keys must be letters, digits and underscores: " + k)
		}
	}
	return nil
}
