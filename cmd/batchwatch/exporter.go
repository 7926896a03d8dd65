package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// exporterCommand is a placeholder until the exporter command lands.
func exporterCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("exporter", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("exporter: not built yet") },
	}
}
