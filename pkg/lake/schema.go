package lake

// The gold schema is Row, generated from weather.Columns, the one list of
// value columns: after changing that list, run go generate ./pkg/lake.
//go:generate go run ./internal/rowgen
