// Package deploytest holds only tests: they check that the files that ship
// weatherd (Dockerfile, docker-compose.yml, deploy/ecs, deploy/iam,
// deploy/prometheus, deploy/grafana) agree with the code and with each other —
// the IAM policies grant exactly the AWS operations the code calls, the
// dashboard and alerting rules use metrics weatherd registers, the compose
// and ECS configurations load, and the image's binary is static.
//
// Some tests need external tools (docker-compose, promtool from Debian's
// docker-compose and prometheus packages); they fail with an install hint
// when the tool is missing.
package deploytest
