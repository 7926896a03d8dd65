package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// dashboardsCommand is a placeholder until the dashboards command lands.
func dashboardsCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("dashboards", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("dashboards: not built yet") },
	}
}
