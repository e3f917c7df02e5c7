package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Metrics is one scrape of a Prometheus text exposition: each sample's
// series — its name plus its labels exactly as printed, e.g.
// `weatherd_lake_objects_written_total{kind="gold"}` — to its value. Index
// it with a series for that one sample (`v, ok := m[series]` tells an absent
// series from a 0); Sum adds up a name's samples by some of their labels.
type Metrics map[string]float64

// maxLine bounds one exposition line.
const maxLine = 1 << 20

// Parse reads a Prometheus text exposition (format 0.0.4). Comments (# HELP,
// # TYPE) and blank lines are skipped; a sample's value may be +Inf, -Inf or
// NaN, and may be followed by a timestamp, which is dropped. A line that is
// not a sample is an error naming its line number.
func Parse(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		series, rest, err := splitSeries(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: %w", n, line, err)
		}
		f := strings.Fields(rest)
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("metrics line %d %q: want a value and at most a timestamp after the series", n, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: value %q is not a number", n, line, f[0])
		}
		m[series] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

// splitSeries splits a sample line into its series (name and label set as
// printed) and the rest (value and timestamp).
func splitSeries(line string) (series, rest string, err error) {
	i := strings.IndexAny(line, "{ \t")
	if i == 0 {
		return "", "", errors.New("no metric name")
	}
	if i < 0 {
		return "", "", errors.New("no value")
	}
	if line[i] != '{' {
		return line[:i], line[i:], nil
	}
	end, _, err := labels(line, i)
	if err != nil {
		return "", "", err
	}
	return line[:end+1], line[end+1:], nil
}

// labels scans the label set that opens at s[open] ('{'): it returns the
// index of the '}' that closes it and the `key="value"` pairs inside, as
// printed. Quoted values may hold '}', ',' and escaped quotes.
func labels(s string, open int) (end int, pairs []string, err error) {
	quoted, start := false, open+1
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == '}'):
			if p := strings.TrimSpace(s[start:i]); p != "" {
				pairs = append(pairs, p)
			}
			if c == '}' {
				return i, pairs, nil
			}
			start = i + 1
		}
	}
	return 0, nil, errors.New("label set not closed")
}

// Sum adds the samples of the metric called name whose labels include every
// label in want, each written as printed: `key="value"`. With no labels it
// adds all of name's samples (a metric without labels has one). A name with
// no matching sample sums to 0. For a histogram, name is one of its series
// (`x_bucket`, `x_sum`, `x_count`).
func (m Metrics) Sum(name string, want ...string) float64 {
	var total float64
	for series, v := range m {
		n, _, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		var pairs []string
		if open := strings.IndexByte(series, '{'); open >= 0 {
			_, pairs, _ = labels(series, open)
		}
		if hasLabels(pairs, want) {
			total += v
		}
	}
	return total
}

func hasLabels(pairs, want []string) bool {
	for _, w := range want {
		if !slices.Contains(pairs, w) {
			return false
		}
	}
	return true
}

// Scrape fetches and parses /metrics from the HTTP endpoint at addr
// ("host:port" or a base URL). A status other than 200 is an error.
func Scrape(addr string) (Metrics, error) {
	resp, err := client.Get(URL(addr, "/metrics"))
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", URL(addr, "/metrics"), resp.StatusCode)
	}
	m, err := Parse(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", URL(addr, "/metrics"), err)
	}
	return m, nil
}

// MustScrape is Scrape that fails tb on an error.
func MustScrape(tb testing.TB, addr string) Metrics {
	tb.Helper()
	m, err := Scrape(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
