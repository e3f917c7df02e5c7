package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/weatherd/weatherd/pkg/alert/notify"
	"github.com/weatherd/weatherd/pkg/lifecycle"
	"github.com/weatherd/weatherd/pkg/secret"
)

type channel struct {
	name     string
	cfg      ChannelConfig
	sender   notify.Sender
	window   *window
	tmpl     *templates
	fallback *templates
	minRank  int
	units    notify.Units
	health   lifecycle.Health // whether deliveries through the channel succeed
}

// newChannel builds the channel alerts.channels.<name> configures: its
// templates, delivery window and sender (sns, webhook or log).
func newChannel(name string, cc ChannelConfig, fallback *templates, deps Deps, log *slog.Logger) (*channel, error) {
	var err error
	ch := &channel{name: name, cfg: cc, fallback: fallback, minRank: max(severityRank(cc.MinSeverity), 0)}
	if ch.tmpl, err = parseTemplates(cc.Templates); err != nil {
		return nil, fmt.Errorf("alerts.channels.%s: %w", name, err)
	}
	if ch.units, err = notify.ParseUnits(cc.Units, cc.WindUnits); err != nil {
		return nil, fmt.Errorf("alerts.channels.%s.units: %w", name, err)
	}
	if ch.window, err = newWindow(cc.Window); err != nil {
		return nil, fmt.Errorf("alerts.channels.%s.window: %w", name, err)
	}
	switch cc.Type {
	case "sns":
		if deps.SNS == nil {
			return nil, fmt.Errorf("alerts.channels.%s: type sns needs an SNS client", name)
		}
		ch.sender = notify.NewSNS(deps.SNS, cc.TopicARN, cc.Format)
	case "webhook":
		key := cc.Secret
		if cc.SecretFile != "" {
			// Read again: the file may have changed since Validate.
			if key, err = readSecretFile(cc.SecretFile); err != nil {
				return nil, fmt.Errorf("alerts.channels.%s.secret_file: %w", name, err)
			}
		}
		ch.sender = notify.NewWebhook(deps.HTTPClient, notify.WebhookConfig{
			URL: cc.URL, Secret: key, Timeout: cc.Timeout, MaxRetryAfter: cc.MaxRetryAfter, Now: deps.Now,
		})
	default:
		ch.sender = notify.NewLog(log.With("channel", name))
	}
	return ch, nil
}

// readSecretFile returns the key a webhook's secret_file holds
// (secret.ReadFile), with errors worded for that key.
func readSecretFile(name string) (secret.String, error) {
	key, err := secret.ReadFile(name)
	switch {
	case errors.Is(err, secret.ErrEmptyFile):
		return "", fmt.Errorf("%q is empty; want the HMAC-SHA256 key", name)
	case err != nil:
		return "", fmt.Errorf("cannot read %q: %v", name, unwrapPathErr(err))
	}
	return key, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
