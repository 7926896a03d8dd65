package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// inspectCommand is a placeholder until the inspect command lands.
func inspectCommand(app *kingpin.Application) *command {
	return &command{
		clause: app.Command("inspect", "(not built yet)"),
		run:    func(context.Context, *logrus.Logger) error { return errors.New("inspect: not built yet") },
	}
}
