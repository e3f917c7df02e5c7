package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weatherd/weatherd/pkg/api"
	"github.com/weatherd/weatherd/pkg/api/client"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/secret"
)

// tokenEnv holds the API token for the commands that talk to a daemon: the
// daemon reads the same variable, and an environment variable does not show
// in ps the way a flag value would.
const tokenEnv = "WEATHERD_HTTP_API_TOKEN"

// apiHelp is the part of the help the commands talking to a daemon share.
const apiHelp = `talking to the daemon:
  --url defaults to the http.listen of the configuration (found as
  weatherd run finds it, or --config FILE), on 127.0.0.1 when it listens on
  every address: http://127.0.0.1:9108 with the embedded default. Writes (silence add,
  silence expire, ack) need the daemon's API token: from the environment
  variable ` + tokenEnv + `, or from the file --token-file names.
  Exit codes: 0 done, 1 the daemon could not be reached or refused
  (its message is shown), 2 a usage mistake.
`

// apiFlags are the flags every command talking to a daemon takes.
type apiFlags struct {
	url, tokenFile, output, config string
	sentToken                      bool // whether requests carry a token
}

func newAPIFlagSet(name string) (*flag.FlagSet, *apiFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &apiFlags{}
	fs.StringVar(&f.url, "url", "", "`URL` of the daemon (default: from http.listen)")
	fs.StringVar(&f.tokenFile, "token-file", "", "`FILE` holding the API token (default: $"+tokenEnv+")")
	fs.StringVar(&f.output, "o", "table", "output `FORMAT`: table or json")
	fs.StringVar(&f.config, "config", "", "configuration `FILE` whose http.listen gives the default --url (default: as weatherd run finds it)")
	return fs, f
}

// parseArgs parses flags wherever they stand among the arguments
// (`ack oslo strong-wind --by ana`), returning the others in order; want is
// the number of those, -1 for any.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer, usageLine string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				apiUsage(stdout, fs, usageLine)
				return nil, errHelp
			}
			return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if want >= 0 && len(pos) != want {
		if len(pos) > want {
			return nil, usageError{fmt.Sprintf("%s: unexpected argument %q (usage: weatherd %s)", fs.Name(), pos[want], usageLine)}
		}
		return nil, usageError{fmt.Sprintf("%s: missing arguments (usage: weatherd %s)", fs.Name(), usageLine)}
	}
	return pos, nil
}

func apiUsage(w io.Writer, fs *flag.FlagSet, usageLine string) {
	fmt.Fprintf(w, "usage: weatherd %s\n\n%s\n\nflags:\n", usageLine, apiSummary(fs.Name()))
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  %s%s %s\n        %s%s\n", dash, f.Name, arg, help, def)
	})
	fmt.Fprint(w, "\n"+apiHelp)
}

func apiSummary(name string) string {
	switch name {
	case "silence add":
		return "create a silence: the alerts its matchers select send no notification until it ends"
	case "silence ls":
		return "list the silences: pending, active and recently expired"
	case "silence expire":
		return "end a silence now"
	}
	return summary(name)
}

// client builds the API client from the flags, and checks -o.
func (f *apiFlags) client(name string) (*client.Client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, usageError{fmt.Sprintf("%s: -o: got %q, want table or json", name, f.output)}
	}
	base := f.url
	if base == "" {
		src := config.Source{Path: config.DefaultPath}
		if f.config != "" {
			src = config.Source{Path: f.config, Explicit: true}
		}
		cfg, err := config.Load(src)
		if err != nil {
			return nil, fmt.Errorf("finding the daemon's address (give --url to skip the configuration): %w", err)
		}
		if base, err = localURL(cfg.HTTP.Listen); err != nil {
			return nil, err
		}
	}
	token := secret.String(os.Getenv(tokenEnv))
	if f.tokenFile != "" {
		var err error
		if token, err = secret.ReadFile(f.tokenFile); err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
	}
	f.sentToken = !token.IsZero()
	c, err := client.New(base, token)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", name, err)}
	}
	return c, nil
}

// localURL is the URL of a daemon listening on listen, from this host.
func localURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// currentUser names who creates a silence or acknowledges, by default.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func alertsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, af := newAPIFlagSet("alerts")
	var f api.Filter
	fs.StringVar(&f.Location, "location", "", "only alerts of location `ID`")
	fs.StringVar(&f.Rule, "rule", "", "only alerts of rule `NAME`")
	fs.StringVar(&f.State, "state", "", "only alerts in `STATE`: pending, firing, predicted, silenced, inhibited or acknowledged")
	const line = "alerts [--location ID] [--rule NAME] [--state STATE] [--url URL] [-o table|json]"
	if _, err := parseArgs(fs, args, stdout, line, 0); err != nil {
		return err
	}
	c, err := af.client("alerts")
	if err != nil {
		return err
	}
	alerts, err := c.Alerts(ctx, f)
	if err != nil {
		return fmt.Errorf("alerts: %w", hint(err, af.sentToken))
	}
	if af.output == "json" {
		return writeJSON(stdout, nonNil(alerts))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCATION\tRULE\tSEVERITY\tPHASE\tSINCE\tSTATUS\tVALUES")
	for _, a := range alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Location, a.Rule, a.Severity, a.Phase,
			localTime(a.Since, a.Timezone), alertStatus(a), formatValues(a.Values))
	}
	return tw.Flush()
}

// alertStatus says why an alert sends nothing, or "-".
func alertStatus(a api.Alert) string {
	var s []string
	if a.Silenced {
		s = append(s, "silenced")
	}
	if a.Inhibited {
		s = append(s, "inhibited by "+a.InhibitedBy)
	}
	if a.Acknowledged {
		by := ""
		if a.Ack != nil {
			by = " by " + a.Ack.By
		}
		s = append(s, "acked"+by)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

func silenceCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return helpedUsage{usageError{"silence: missing subcommand: add, ls or expire"}, silenceHelp}
	}
	switch args[0] {
	case "add":
		return withHelp("silence add", silenceAddCmd(ctx, args[1:], stdout))
	case "ls", "list", "query":
		return withHelp("silence ls", silenceLsCmd(ctx, args[1:], stdout))
	case "expire", "rm":
		return withHelp("silence expire", silenceExpireCmd(ctx, args[1:], stdout))
	case "-h", "-help", "--help":
		fmt.Fprintf(stdout, "usage: weatherd silence add|ls|expire ...\n\n%s\n\n%s", summary("silence"), silenceHelp)
		return errHelp
	}
	return helpedUsage{usageError{fmt.Sprintf("silence: unknown subcommand %q (want add, ls or expire)", args[0])}, silenceHelp}
}

const silenceHelp = "weatherd silence add|ls|expire --help shows the subcommand's usage and flags.\n"

// helpedUsage is a command-line mistake followed by the command's own help
// rather than the whole usage.
type helpedUsage struct {
	usageError
	help string
}

func (e helpedUsage) Help() string  { return e.help }
func (e helpedUsage) Unwrap() error { return e.usageError }

// withHelp points a command-line mistake in cmd at cmd's own help.
func withHelp(cmd string, err error) error {
	var ue usageError
	var h helpedUsage
	if errors.As(err, &ue) && !errors.As(err, &h) {
		return helpedUsage{ue, "weatherd " + cmd + " --help shows its usage and flags.\n"}
	}
	return err
}

// hint adds what to do to a refusal for want of a token.
func hint(err error, sent bool) error {
	var se *client.StatusError
	if !errors.As(err, &se) || sent || (se.Status != http.StatusUnauthorized && se.Status != http.StatusForbidden) {
		return err
	}
	return fmt.Errorf("%w (no token was sent: set %s or give --token-file)", err, tokenEnv)
}

func silenceAddCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, af := newAPIFlagSet("silence add")
	var req api.SilenceRequest
	fs.StringVar(&req.Matchers.Rule, "rule", "", "rule `GLOB` the silence matches (e.g. strong-wind, \"heavy-*\")")
	fs.StringVar(&req.Matchers.Location, "location", "", "location id `GLOB` the silence matches")
	fs.StringVar(&req.Matchers.Severity, "severity", "", "severity `GLOB` the silence matches")
	fs.StringVar(&req.Duration, "for", "", "how long the silence lasts from now, as a `DURATION` (e.g. 6h, 90m)")
	fs.StringVar(&req.Comment, "comment", "", "why (shown with the silence)")
	fs.StringVar(&req.CreatedBy, "created-by", currentUser(), "who creates it")
	const line = "silence add --rule GLOB --location GLOB [--severity GLOB] --for DURATION --comment TEXT [--created-by NAME]"
	if _, err := parseArgs(fs, args, stdout, line, 0); err != nil {
		return err
	}
	// What the daemon would refuse anyway is a usage mistake here.
	if req.Matchers.Rule == "" && req.Matchers.Location == "" && req.Matchers.Severity == "" {
		return usageError{"silence add: give at least one of --rule, --location, --severity (\"*\" matches everything)"}
	}
	if req.Duration == "" {
		return usageError{"silence add: --for is required (e.g. --for 6h)"}
	}
	if d, err := time.ParseDuration(req.Duration); err != nil || d <= 0 {
		return usageError{fmt.Sprintf("silence add: --for: got %q, want a positive duration such as 6h or 90m", req.Duration)}
	}
	c, err := af.client("silence add")
	if err != nil {
		return err
	}
	s, err := c.AddSilence(ctx, req)
	if err != nil {
		return fmt.Errorf("silence add: %w", hint(err, af.sentToken))
	}
	if af.output == "json" {
		return writeJSON(stdout, s)
	}
	fmt.Fprintln(stdout, s.ID)
	return nil
}

func silenceLsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, af := newAPIFlagSet("silence ls")
	if _, err := parseArgs(fs, args, stdout, "silence ls [--url URL] [-o table|json]", 0); err != nil {
		return err
	}
	c, err := af.client("silence ls")
	if err != nil {
		return err
	}
	silences, err := c.Silences(ctx)
	if err != nil {
		return fmt.Errorf("silence ls: %w", hint(err, af.sentToken))
	}
	if af.output == "json" {
		return writeJSON(stdout, nonNil(silences))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCHERS\tSTATE\tSTARTS\tENDS\tSUPPRESSED\tCREATED BY\tCOMMENT")
	for _, s := range silences {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, formatMatchers(s.Matchers), s.State,
			s.StartsAt.UTC().Format(timeLayout), s.EndsAt.UTC().Format(timeLayout), s.Suppressed, dash(s.CreatedBy), dash(oneLine(s.Comment)))
	}
	return tw.Flush()
}

func silenceExpireCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, af := newAPIFlagSet("silence expire")
	pos, err := parseArgs(fs, args, stdout, "silence expire ID [--url URL]", 1)
	if err != nil {
		return err
	}
	if !api.ValidSilenceID(pos[0]) {
		return usageError{fmt.Sprintf("silence expire: got id %q, want the ID column of weatherd silence ls", pos[0])}
	}
	c, err := af.client("silence expire")
	if err != nil {
		return err
	}
	if err := c.ExpireSilence(ctx, pos[0]); err != nil {
		return fmt.Errorf("silence expire %s: %w", pos[0], hint(err, af.sentToken))
	}
	if af.output == "json" {
		return writeJSON(stdout, map[string]string{"id": pos[0], "state": api.SilenceExpired})
	}
	fmt.Fprintf(stdout, "silence %s expired\n", pos[0])
	return nil
}

func ackCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, af := newAPIFlagSet("ack")
	var req api.AckRequest
	fs.StringVar(&req.By, "by", currentUser(), "who acknowledges")
	fs.StringVar(&req.Comment, "comment", "", "why, or what is being done")
	pos, err := parseArgs(fs, args, stdout, "ack LOCATION RULE [--by NAME] [--comment TEXT] [--url URL]", 2)
	if err != nil {
		return err
	}
	c, err := af.client("ack")
	if err != nil {
		return err
	}
	a, err := c.Ack(ctx, pos[0], pos[1], req)
	if err != nil {
		return fmt.Errorf("ack %s %s: %w", pos[0], pos[1], hint(err, af.sentToken))
	}
	if af.output == "json" {
		return writeJSON(stdout, a)
	}
	fmt.Fprintf(stdout, "%s at %s acknowledged by %s: no more reminders until it resolves\n", a.Rule, a.Location, req.By)
	return nil
}

// timeLayout is how the tables show a time: to the minute, with its zone.
const timeLayout = "2006-01-02 15:04 MST"

// localTime shows t in the location's zone (UTC when it has none).
func localTime(t time.Time, zone string) string {
	if t.IsZero() {
		return "-"
	}
	loc, err := time.LoadLocation(zone)
	if zone == "" || err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(timeLayout)
}

func formatValues(v map[string]float64) string {
	if len(v) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(v)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%g", k, v[k])
	}
	return b.String()
}

func formatMatchers(m api.Matchers) string {
	var s []string
	for _, f := range []struct{ k, v string }{{"rule", m.Rule}, {"location", m.Location}, {"severity", m.Severity}} {
		if f.v != "" {
			s = append(s, f.k+"="+f.v)
		}
	}
	return strings.Join(s, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a table row on one line whatever a comment holds.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil makes an empty list print as [] in JSON, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
