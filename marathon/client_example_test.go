package marathon_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/switchyard/switchyard/marathon"
)

// Scale an app, forcing past a stuck deployment only when Marathon says the
// app is locked, then wait for the change to finish.
func ExampleClient_ScaleApp() {
	cfg, err := marathon.ConfigFromEnv() // MARATHON_URL, DCOS_ACS_TOKEN, DCOS_SSL_VERIFY
	if err != nil {
		log.Fatal(err)
	}
	c, err := marathon.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	res, err := c.ScaleApp(ctx, "/prod/web", 5, false)
	var apiErr *marathon.APIError
	if marathon.IsDeploymentLocked(err) && errors.As(err, &apiErr) {
		fmt.Println("cancelling deployments", apiErr.DeploymentIDs())
		res, err = c.ScaleApp(ctx, "/prod/web", 5, true)
	}
	if err != nil {
		log.Fatal(err)
	}
	if err := c.WaitForDeployment(ctx, res.DeploymentID, time.Second); err != nil {
		log.Fatal(err)
	}
}

// Follow deployments as they finish.
func ExampleClient_Events() {
	c, err := marathon.NewClient(marathon.Config{URL: "http://127.0.0.1:8080"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := c.Events(ctx, marathon.EventOptions{
		Types: []string{marathon.EventDeploymentSuccess, marathon.EventDeploymentFailed},
	})
	if err != nil {
		log.Fatal(err)
	}
	for ev := range events {
		switch p := ev.Payload.(type) {
		case *marathon.DeploymentSuccessEvent:
			fmt.Println("deployment done:", p.ID)
		case *marathon.DeploymentFailedEvent:
			fmt.Println("deployment failed:", p.ID)
		default:
			if ev.Type == marathon.EventReconnected {
				fmt.Println("stream re-opened: events may have been missed, re-read the state")
			}
		}
	}
}
