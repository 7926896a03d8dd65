package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// jobDashboardUID is the Job dashboard's uid: every table of jobs links its
// job ids there (jobIDLinks).
const jobDashboardUID = "batchwatch-job"

// Job is the "Job" dashboard: one job, chosen by its id (the job_id
// variable, which every table of jobs fills in through its link): what it
// is, its timeline of events, its attempts with exit codes, reasons and log
// streams, its parameters and tags, and links to the AWS Batch console and
// to CloudWatch Logs in the log group the job really used (its container's
// logConfiguration, stored by ingest; /aws/batch/job when it has none).
//
// The queries find the job by id alone, whatever the time range: a link
// from a dashboard keeps that dashboard's range, which need not contain
// the job's creation.
type Job struct{ Config Config }

// Build builds the dashboard.
func (d Job) Build() (dashboard.Dashboard, error) {
	cfg := d.Config
	b := newDashboard(cfg, jobDashboardUID, "Job",
		"One AWS Batch job from ClickHouse: state, timeline of events, attempts with exit codes, reasons and log streams, parameters and tags, and links to the AWS Batch console and CloudWatch Logs.")
	for _, v := range chScopeVariables(cfg) {
		b = b.WithVariable(v)
	}
	b = b.WithVariable(dashboard.NewTextBoxVariableBuilder("job_id").
		Label("Job id").
		Description("The AWS Batch job id (array children: <parent>:<index>; multi-node nodes: <parent>#<node>). Tables of jobs on the other dashboards link here with it.").
		DefaultValue(dashboard.StringOrMap{String: cog.ToPtr("")}))
	return finish(withRows(b, jobSummaryRow(), jobTimelineRow(), jobDetailsRow()).Build())
}

// Conditions on the job of the job_id variable. The id is quoted by
// Grafana's singlequote format (a quote in it is escaped), so any text
// typed into the box stays a string literal.
const (
	isThisJob = "job_id = ${job_id:singlequote}"
	// thisJob reads the job's latest row.
	thisJob = "FROM $database.jobs FINAL WHERE " + isThisJob
)

// jobRegion is the region of the job's CloudWatch Logs group, for rows of
// jobs: the awslogs-region option, else the job's own region (rows written
// before migration 006 have no log_region).
const jobLogRegion = "if(log_region != '', log_region, region)"

// batchConsoleURL is the SQL expression of a job's page in the AWS Batch
// console, for rows of jobs.
const batchConsoleURL = "concat('https://', region, '.console.aws.amazon.com/batch/home?region=', region, '#jobs/detail/', job_id)"

// logsURL is the SQL expression of a CloudWatch Logs console link: the log
// stream stream of group in region (SQL expressions), or the group itself
// when the stream is empty. The console escapes '/' in group and stream
// names as $252F (Grafana leaves $252F alone: no variable has that name).
func logsURL(group, stream, region string) string {
	return "concat('https://', " + region + ", '.console.aws.amazon.com/cloudwatch/home?region=', " + region +
		", '#logsV2:log-groups/log-group/', replaceAll(" + group + ", '/', '$252F')," +
		" if(" + stream + " = '', '', concat('/log-events/', replaceAll(" + stream + ", '/', '$252F'))))"
}

// jobIDLinks makes a table's job_id column link to the Job dashboard, with
// the same datasource and time range.
func jobIDLinks() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
		"title": "Job ${__value.raw}",
		"url":   "/d/" + jobDashboardUID + "/job?var-job_id=${__value.raw:percentencode}&var-datasource=${datasource}&${__url_time_range}",
	}}}}
}

// jobDashboardURL is the SQL expression of the Job dashboard's URL for the
// job id in column col (a relative URL, as Grafana's own links are). Job
// ids are letters, digits, '-', and ':' or '#' before an array index or a
// node number: only '#' needs escaping in a query string (18.16 has no
// encodeURLComponent).
func jobDashboardURL(col string) string {
	return "concat('/d/" + jobDashboardUID + "/job?var-job_id=', replaceAll(" + col + ", '#', '%23'))"
}

// urlLinks makes a column of URLs clickable, opening a new tab.
func urlLinks(title string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "links", Value: []map[string]any{{
		"title":       title,
		"url":         "${__value.raw}",
		"targetBlank": true,
	}}}}
}

// hidden hides a column (a URL that another column links to).
func hidden() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "custom.hidden", Value: true}}
}
