// Package deploytest holds only tests: they check that the files that ship
// weatherd (Dockerfile, docker-compose.yml, deploy/ecs, deploy/iam,
// deploy/prometheus, deploy/grafana) agree with the code and with each other —
// the IAM policies grant exactly the AWS operations the code calls, the
// dashboard and alerting rules use metrics weatherd registers, the compose
// and ECS configurations load, and the image's binary is static.
//
// The checks run in-process with the libraries the real tools are built
// from (the Compose specification's loader, Prometheus's rule and PromQL
// parsers), so they need nothing beyond Go: no docker, no promtool.
package deploytest
