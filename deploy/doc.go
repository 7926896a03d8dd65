// Package deploy holds the deployment of batchwatch, and the tests that prove
// it without Docker and without an AWS account:
//
//   - ../docker-compose.yml (at the repository root), docker/Dockerfile,
//     demo.env, aws.env.example, clickhouse/ (users and profiles), web/: the
//     compose stack (ClickHouse, Prometheus, Alertmanager, Grafana, ingest,
//     exporter; the simulator in the demo profile, the submission service in
//     the submitter profile);
//   - prometheus/prometheus.yml: the scrape jobs the generated alert rules
//     (prometheus/rules) select;
//   - aws/batchwatch.yaml and aws/policies: the AWS wiring (EventBridge rule,
//     SQS queues with dead-letter queues, optional SNS fan-out, IAM policies).
//
// The unit tests load the compose file with compose-go and docker-compose,
// check every file it mounts, parse every batchwatch command line with the
// binary built as the Dockerfile builds it, check the Prometheus
// configuration with promtool and compare the Grafana provisioning, the scrape
// targets and the IAM documents with what they refer to. The integration
// tests (build tag integration) deploy the CloudFormation template to moto and
// send events through it, and run the demo's command lines against the
// simulator, ClickHouse and Prometheus, check the shipped ClickHouse users on
// a private ClickHouse 18.16, and start the compose stack in Docker from
// images built out of Debian's packages. The package has no Go code of its own.
package deploy
