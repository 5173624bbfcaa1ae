package marathon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/lab/component"
	"github.com/switchyard/switchyard/lab/labconfig"
)

// ComponentName is the lab component name of the lab's Marathon.
const ComponentName = "marathon"

// Components returns the lab's Marathon (with its Mesos view) as one lab
// component: `switchyard lab run marathon --config <dir>/lab.yaml`, ready
// when /ping answers pong and /master/health answers 200. Its Cleanup stops
// the Marathon tasks left behind (found by the lab marker) on `lab down`.
func Components(cfg labconfig.Config, self string) ([]component.Spec, error) {
	return []component.Spec{{
		Name:         ComponentName,
		Argv:         []string{self, "lab", "run", "marathon", "--config", cfg.Path("lab.yaml")},
		Env:          []string{labconfig.MarkerEnv + "=" + cfg.ID},
		Address:      "Marathon " + cfg.Marathon.URL() + ", Mesos master " + cfg.Mesos.URL(),
		Ready:        func(ctx context.Context) error { return Ready(ctx, cfg) },
		ReadyTimeout: 30 * time.Second,
		StopGrace:    10 * time.Second,
	}}, nil
}

// Ready checks that the Marathon API and the Mesos view answer.
func Ready(ctx context.Context, cfg labconfig.Config) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for _, u := range []string{cfg.Marathon.URL() + "/ping", cfg.Mesos.URL() + "/master/health"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("lab marathon: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("lab marathon: GET %s: %s", u, resp.Status)
		}
		if strings.HasSuffix(u, "/ping") && strings.TrimSpace(string(body)) != "pong" {
			return fmt.Errorf("lab marathon: GET %s answered %q, not pong", u, body)
		}
	}
	return nil
}
