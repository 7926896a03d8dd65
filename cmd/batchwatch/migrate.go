package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// migrateCommand is a placeholder until the migrate command lands.
func migrateCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("migrate", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("migrate: not built yet") },
	}
}
