package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/weatherd/weatherd/pkg/bootstrap"
	"github.com/weatherd/weatherd/pkg/config"
	"github.com/weatherd/weatherd/pkg/daemon"
	"github.com/weatherd/weatherd/pkg/logging"
)

var (
	errConfig   = config.ErrConfig
	errReported = errors.New("problems reported")
	// errHelp means --help was asked for and answered (exit code 0).
	errHelp = errors.New("help printed")
)

// loadConfig parses the command's flags (--config) and loads the
// configuration. --help prints the command's usage to stdout and returns
// errHelp.
func loadConfig(name string, args []string, stdout io.Writer) (*config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", config.DefaultPath, "configuration `FILE` merged over the embedded default")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, fs, configHelp)
			return nil, errHelp
		}
		return nil, usageError{fmt.Sprintf("%s: %v", name, err)}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	return config.Load(config.Source{Path: *path, Explicit: explicit})
}

// commandUsage prints the usage of the command fs parses: its line, its
// summary, its flags with their defaults, then more.
func commandUsage(w io.Writer, fs *flag.FlagSet, more string) {
	var line, flags strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		fmt.Fprintf(&line, " [--%s %s]", f.Name, arg)
		fmt.Fprintf(&flags, "  --%s %s\n        %s (default %q)\n", f.Name, arg, help, f.DefValue)
	})
	fmt.Fprintf(w, "usage: weatherd %s%s\n\n%s\n", fs.Name(), line.String(), summary(fs.Name()))
	if flags.Len() > 0 {
		fmt.Fprint(w, "\nflags:\n"+flags.String())
	}
	if more != "" {
		fmt.Fprint(w, "\n"+more)
	}
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("run", args, stdout)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	for _, w := range config.Warnings(cfg) {
		log.Warn(w)
	}
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func validateCmd(args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("validate", args, stdout)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) || errors.Is(err, errHelp) {
			return err
		}
		fmt.Fprintln(stderr, err)
		return errReported
	}
	for _, w := range config.Warnings(cfg) {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	fmt.Fprintln(stdout, "config OK")
	return nil
}

func bootstrapCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("bootstrap", args, stdout)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	return bootstrap.Run(ctx, cfg, stdout, log)
}

// healthcheckCmd asks the local daemon's /healthz, for container health
// checks in an image without a shell or curl.
func healthcheckCmd(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := loadConfig("healthcheck", args, stdout)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

func versionCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, fs, "")
		return errHelp
	}
	if len(args) > 0 {
		return usageError{fmt.Sprintf("version: unexpected argument %q", args[0])}
	}
	fmt.Fprintf(stdout, "weatherd %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
