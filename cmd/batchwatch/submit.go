package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// submitCommand is a placeholder until the submit command lands.
func submitCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("submit", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("submit: not built yet") },
	}
}
