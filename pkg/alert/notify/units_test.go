package notify_test

import (
	"testing"

	"github.com/weatherd/weatherd/pkg/alert/notify"
)

func TestUnits_Format(t *testing.T) {
	metric, _ := notify.ParseUnits("", "")
	imperial, _ := notify.ParseUnits("imperial", "")
	knots, _ := notify.ParseUnits("metric", "kn")
	ms, _ := notify.ParseUnits("", "m/s")
	for _, tc := range []struct {
		u    notify.Units
		name string
		v    float64
		want string
	}{
		{metric, "windGust", 22.2, "80 km/h"},
		{imperial, "windGust", 22.2, "50 mph"},
		{knots, "windSpeed", 10, "19 kn"},
		{ms, "windGust", 21.84, "21.8 m/s"},
		{metric, "temperature", -2, "-2 °C"},
		{metric, "temperature", -0.04, "0 °C"},
		{imperial, "temperature", -2.6, "27.3 °F"},
		{metric, "rainIntensity", 7.6, "7.6 mm/h"},
		{imperial, "rainIntensity", 25.4, "1 in/h"},
		{imperial, "snowAccumulation", 50.8, "2 in"},
		{imperial, "visibility", 16.09344, "10 mi"},
		{metric, "pressureSeaLevel", 1013.25, "1013 hPa"},
		{imperial, "pressureSeaLevel", 1013.25, "29.92 inHg"},
		{metric, "humidity", 87.4, "87%"},
		{metric, "uvIndex", 7, "7"},
	} {
		if got := tc.u.Format(tc.name, tc.v); got != tc.want {
			t.Errorf("%+v.Format(%s, %v) = %q, want %q", tc.u, tc.name, tc.v, got, tc.want)
		}
	}
}

func TestParseUnits(t *testing.T) {
	if u, err := notify.ParseUnits("imperial", ""); err != nil || u.Wind != notify.WindMph {
		t.Errorf("imperial: %+v %v, want mph", u, err)
	}
	if u, err := notify.ParseUnits("", ""); err != nil || u != (notify.Units{System: "metric", Wind: "km/h"}) {
		t.Errorf("default: %+v %v", u, err)
	}
	if _, err := notify.ParseUnits("si", ""); err == nil || err.Error() != `got "si", want metric or imperial` {
		t.Errorf("si: %v", err)
	}
}

func TestLabel(t *testing.T) {
	for name, want := range map[string]string{"windGust": "gusts", "rainIntensity": "rain", "cloudBase": "cloud base", "temperature": "temperature"} {
		if got := notify.Label(name); got != want {
			t.Errorf("Label(%s) = %q, want %q", name, got, want)
		}
	}
}
