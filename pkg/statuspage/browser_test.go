package statuspage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/weatherd/weatherd/internal/testkit"
	"github.com/weatherd/weatherd/pkg/internal/browser"
)

// firingRow selects the row of a firing alert of rule at location.
func firingRow(rule, location string) chromedp.CSS {
	return chromedp.CSS(`#alerts tr.phase-firing[data-rule="` + rule + `"][data-location="` + location + `"]`)
}

// checkInBrowser loads the status page at base in headless Chromium with
// scripts disabled (the page must work without them), as on a phone: a
// firing alert of rule at location is listed, a silence added through the
// form with token is listed after the redirect, and the alert acknowledged
// through its row's form shows who acknowledged it. Screenshots go to the
// test's artifact directory.
func checkInBrowser(t *testing.T, base, token, rule, location string) {
	t.Helper()
	const phoneW, phoneH = 390, 844
	ctx := browser.New(t, 1280, 900, 3*time.Minute) // a busy CI machine is slow
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			shot(t, ctx, "failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	noScripts := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
	step("load the page", noScripts, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#alerts")))
	step("see the firing alert", chromedp.WaitVisible(firingRow(rule, location)))
	text, err := chromedp.Run(ctx, chromedp.Text(firingRow(rule, location)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, rule) || !strings.Contains(text, "firing") {
		t.Errorf("firing row reads %q, want the rule and \"firing\"", text)
	}
	shot(t, ctx, "desktop")

	// On a phone-sized screen nothing is wider than the screen.
	step("phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateScale(2)))
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if width > phoneW {
		t.Errorf("on a %dpx wide screen the page is %dpx wide", phoneW, width)
	}
	shot(t, ctx, "phone")

	comment := "browser test " + time.Now().UTC().Format("150405.000")
	step("fill the silence form",
		chromedp.SendKeys(chromedp.CSS("#s-rule"), rule),
		chromedp.SendKeys(chromedp.CSS("#s-location"), location),
		chromedp.Clear(chromedp.CSS("#s-duration")),
		chromedp.SendKeys(chromedp.CSS("#s-duration"), "45m"),
		chromedp.SendKeys(chromedp.CSS("#s-comment"), comment),
		chromedp.SendKeys(chromedp.CSS("#s-created-by"), "browser"),
		chromedp.SendKeys(chromedp.CSS("#s-token"), token),
	)
	step("submit it", chromedp.Click(chromedp.CSS(`#add-silence button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#note")))
	note, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#note")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(note, "Silence ") || !strings.HasSuffix(note, " created.") {
		t.Fatalf("after submitting, the note reads %q", note)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(note, "Silence "), " created.")
	row := chromedp.CSS(`#silences tr[data-silence="` + id + `"]`)
	step("see the silence listed", chromedp.WaitVisible(row))
	text, err = chromedp.Run(ctx, chromedp.Text(row))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rule=" + rule + " location=" + location, comment, "browser", "(in 44m"} {
		if !strings.Contains(text, want) {
			t.Errorf("silence row reads %q, want %q in it", text, want)
		}
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/?done=silenced&id="+id) {
		t.Errorf("after the form the browser is at %q (%v), want the page again (POST-redirect-GET)", loc, err)
	}
	shot(t, ctx, "silenced")

	// Acknowledge through the form that unfolds in the alert's row.
	row = firingRow(rule, location)
	step("acknowledge",
		chromedp.Click(chromedp.CSS(string(row)+" summary")),
		chromedp.SendKeys(chromedp.CSS(string(row)+` input[name="by"]`), "browser"),
		chromedp.SendKeys(chromedp.CSS(string(row)+` input[name="token"]`), token),
		chromedp.Click(chromedp.CSS(string(row)+` button[type=submit]`)),
	)
	// The page before the redirect has a note too: wait for the new one.
	waitFor(t, ctx, "the page after acknowledging", func() (bool, string) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		return err == nil && strings.HasSuffix(loc, "/?done=acked"), loc
	})
	step("the page after acknowledging", chromedp.WaitVisible(chromedp.CSS("#note")))
	if note, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#note"))); err != nil || !strings.HasPrefix(note, "Alert acknowledged") {
		t.Fatalf("after acknowledging, the note reads %q (%v)", note, err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(row)); err != nil || !strings.Contains(text, "acknowledged by browser") || !strings.Contains(text, "silenced") {
		t.Errorf("acknowledged row reads %q (%v), want it silenced and acknowledged by browser", text, err)
	}
	shot(t, ctx, "acknowledged")
}

// waitFor polls cond in the browser until it holds or ctx's deadline passes.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, last := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			shot(t, context.WithoutCancel(ctx), "failed")
			t.Fatalf("%s: not reached (last: %s): %v", what, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// shot saves a full-page screenshot as NAME.png in the test's artifact
// directory (kept with go test -artifacts -outputdir DIR).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// TestStatusPage_InBrowser runs weatherd (the built binary, no AWS) with a
// rule that fires at Oslo on the first reading, and checks its status page in
// headless Chromium: the firing alert is listed, and a silence added through
// the page's form is listed after it. Chromium missing fails the test.
func TestStatusPage_InBrowser(t *testing.T) {
	const token = "browser-test-token"
	browser.Path(t) // before the daemon: a missing Chromium fails at once
	dir := t.TempDir()
	config := filepath.Join(dir, "weatherd.yaml")
	if err := os.WriteFile(config, []byte(`
locations:
  - {id: oslo, name: Oslo, lat: 59.91, lon: 10.75, timezone: Europe/Oslo}
  - {id: sao-paulo, name: "São Paulo", lat: -23.55, lon: -46.63, timezone: America/Sao_Paulo}
poller:
  schedule: "@every 1s"
alerts:
  rules:
    - name: always
      expr: temperature > -100
      for: 0s
      repeat: 0s
      severity: warning
      locations: [oslo]
      channels: [log]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := testkit.Daemon(t, dir, config, "WEATHERD_HTTP_API_TOKEN="+token)
	testkit.WaitFor(t, "always firing at oslo", time.Minute, 200*time.Millisecond, func() (bool, string) {
		_, body, err := testkit.Get(base, "/api/v1/alerts?state=firing")
		return err == nil && strings.Contains(body, `"rule": "always"`), body
	})
	checkInBrowser(t, base, token, "always", "oslo")
}
