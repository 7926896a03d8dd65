package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// simCommand is a placeholder until the sim command lands.
func simCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("sim", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("sim: not built yet") },
	}
}
