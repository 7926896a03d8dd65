package dashboards

import (
	"errors"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// JobHistory is the "Job history (ClickHouse)" dashboard: what the store
// knows that Prometheus cannot, per job: failures with their reasons, exit
// codes and log streams, queue waits per hour, the slowest jobs, jobs stuck
// in RUNNABLE, vCPU-hours by tag, and the quarantine.
//
// Every query runs on ClickHouse 18.16 as well as on current servers (see
// DEVELOPERS.md): no toStartOfInterval ($__timeInterval), no DateTime64
// ($__fromTime_ms), no WITH FILL. Panels read the daily tables jobs_by_day
// and attempts_by_day (a range reads only its days), with FINAL or, over the
// two weeks a stop-time range needs, argMax by version, and events by key,
// so redelivered events count once.
type JobHistory struct{ Config Config }

// Build builds the dashboard.
func (d JobHistory) Build() (dashboard.Dashboard, error) {
	cfg := d.Config
	b := newDashboard(cfg, "batchwatch-job-history", "Job history (ClickHouse)",
		"Every AWS Batch job batchwatch ingested, from ClickHouse: failures with reasons, exit codes and log streams, queue waits, slow and stuck jobs, usage by tag.")
	// job_queue keeps its name: alert pages link here with var-job_queue.
	b = withSelectionVariables(b, cfg, "jobs", "$__timeFilter(created_at) AND "+chScopeFilter()).
		WithVariable(costTagVariable(cfg))
	b = b.Annotation(dashboard.NewAnnotationQueryBuilder().
		Name("New job definition revisions").
		Datasource(dsRef(clickhousePluginID)).
		Enable(true).
		IconColor("purple").
		Target(NewClickHouseQueryBuilder(newRevisionsSQL(cfg)).RefId("Anno")))
	return annotateFailurePanels(finish(withRows(b,
		historySummaryRow(cfg),
		historyFailuresRow(cfg),
		historyWaitsRow(cfg),
		historyJobsRow(cfg),
		historyUsageRow(cfg),
	).Build()))
}

// newRevisionsSQL marks when each job definition revision was first used:
// its first job within the range, if it had none in the 30 days before. A
// failure spike that starts at such a mark is a suspect deploy.
func newRevisionsSQL(cfg Config) string {
	return "SELECT min(created_at) AS time, concat('New revision ', job_definition, ':', toString(job_definition_revision)," +
		" ' (image ', any(image), ')') AS text, job_definition AS tags" +
		" FROM $database.jobs WHERE created_at >= $__fromTime - INTERVAL 30 DAY AND created_at <= $__toTime" +
		" AND job_definition_revision > 0 AND " + chFilter(cfg) +
		" GROUP BY job_definition, job_definition_revision HAVING time >= $__fromTime ORDER BY time"
}

// annotateFailurePanels shows the annotations on the failure panels only
// (the panels of the "Failures" row), by their ids, which finish assigned.
func annotateFailurePanels(d dashboard.Dashboard, err error) (dashboard.Dashboard, error) {
	if err != nil {
		return d, err
	}
	var ids []uint8
	inFailures := false
	for _, p := range d.Panels {
		switch {
		case p.RowPanel != nil:
			inFailures = p.RowPanel.Title != nil && *p.RowPanel.Title == failuresRowTitle
		case p.Panel != nil && inFailures && p.Panel.Id != nil && p.Panel.Type == "timeseries":
			if *p.Panel.Id > 255 {
				return d, errors.New("job history: a failure panel's id does not fit an annotation filter")
			}
			ids = append(ids, uint8(*p.Panel.Id))
		}
	}
	if len(ids) == 0 {
		return d, errors.New("job history: no failure panels to annotate")
	}
	for i := range d.Annotations.List {
		if b := d.Annotations.List[i].BuiltIn; b == nil || *b != 1 {
			d.Annotations.List[i].Filter = &dashboard.AnnotationPanelFilter{Ids: ids}
		}
	}
	return d, nil
}

// tagValue is the value of tag key in a row's parallel tag arrays, empty
// when absent: indexOf gives 0, and element 0 of an array is the default value.
func tagValue(key string) string {
	return fmt.Sprintf("tag_values[indexOf(tag_keys, '%s')]", key)
}

// Time filters. jobs_by_day and attempts_by_day are partitioned by creation
// day, so a condition on created_at lets ClickHouse skip other days even
// when the panel asks about stop times; jobs older than two weeks at their
// stop are left out.
const (
	// stoppedBucket is the start of the $__interval_s bucket a job stopped
	// in (toStartOfInterval is not available on 18.16).
	stoppedBucket = "toDateTime(intDiv(stopped_at_ms, 1000 * $__interval_s) * $__interval_s, 'UTC')"
	// createdForStops bounds the daily partitions of jobs_by_day that can
	// hold a job stopped in the range.
	createdForStops = "created_at >= $__fromTime - INTERVAL 14 DAY AND created_at <= $__toTime"
	// stoppedMs: a stop time within the range.
	stoppedMs = "stopped_at_ms >= toUnixTimestamp($__fromTime) * 1000 AND stopped_at_ms <= toUnixTimestamp($__toTime) * 1000"
)

// stoppedJobs is a FROM clause of the latest state of the jobs with a row
// stopped in the range, read from jobs_by_day: the candidates' keys without
// FINAL (cheap), then each candidate's latest version of cols with
// argMax(col, version), which is what FINAL keeps, without merging two
// weeks of rows. The filter columns are the same in every version. Outer
// conditions on the stop time and status apply to the latest state.
func stoppedJobs(cols ...string) string {
	sel := "job_queue, job_id, job_definition, tag_keys, tag_values, is_array_parent"
	for _, c := range cols {
		sel += ", argMax(" + c + ", version) AS " + c
	}
	return "(SELECT " + sel + " FROM $database.jobs_by_day WHERE " + createdForStops +
		" AND (job_queue, job_id) IN (SELECT job_queue, job_id FROM $database.jobs_by_day WHERE " + createdForStops + " AND " + stoppedMs + ")" +
		" GROUP BY job_queue, job_id, job_definition, tag_keys, tag_values, is_array_parent)"
}
