// Package alert evaluates alert rules against readings and fans the
// resulting notifications out to channels (SNS email and SMS, webhooks, the
// log), with a state machine per (rule, location), tiers, delivery windows,
// digests and an outbox so that no transition is lost or sent twice.
//
// Every reading goes through four stages, each in its own file:
//
//   - evaluate (eval.go): the rule's expressions, compiled with expr, judge
//     the reading: holds, cleared, in between or unknown.
//   - transition (transition.go): the alert's state machine (inactive,
//     pending, firing) turns that verdict into a transition, if any.
//   - route (route.go): a transition becomes one outbox entry per channel,
//     after severity floors, tiers of a group, delivery windows (window.go)
//     and the merging of held notifications.
//   - outbox (outbox.go, deliver.go): the entries are recorded with the
//     alert in the state store (store.go, package state); Run claims,
//     renders (template.go) and sends them (channels.go, package notify),
//     retrying with a backoff until they are delivered.
//
// engine.go holds the Engine and Observe, which drives these stages per
// batch of readings. config.go is the alerts configuration and its
// validation, digest.go the periodic per-location digests, and metrics.go
// the engine's metrics.
package alert
