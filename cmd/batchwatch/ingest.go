package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// ingestCommand is a placeholder until the ingest command lands.
func ingestCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("ingest", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("ingest: not built yet") },
	}
}
