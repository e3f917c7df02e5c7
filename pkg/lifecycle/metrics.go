package lifecycle

import "github.com/prometheus/client_golang/prometheus"

var readyDesc = prometheus.NewDesc("weatherd_component_ready",
	"Whether a component is ready (1) or not (0): started, not stopping, and its dependencies working.",
	[]string{"component"}, nil)

// Register exposes weatherd_component_ready{component} on reg: 1 while the
// group runs and the component is ready, 0 otherwise. Call it once every
// component has been added.
func (g *Group) Register(reg prometheus.Registerer) error {
	return reg.Register(readyCollector{g})
}

type readyCollector struct{ g *Group }

func (c readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c readyCollector) Collect(ch chan<- prometheus.Metric) {
	running := c.g.state.Load() == stateRunning
	for _, comp := range c.g.components {
		v := 0.0
		if running && comp.notReady() == "" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, comp.Name)
	}
}
