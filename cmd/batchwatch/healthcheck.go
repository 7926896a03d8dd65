package main

import (
	"context"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/web"
)

// healthcheckCommand registers `batchwatch healthcheck URL`: the compose
// healthchecks, which keep working when --web.config.file turns on TLS or
// basic auth (the image has no curl or wget).
func healthcheckCommand(app *kingpin.Application) *command {
	cmd := app.Command("healthcheck", "GET a URL of a batchwatch component (e.g. http://127.0.0.1:9848/-/ready) and exit 0 on a 2xx answer; speaks the component's TLS and basic auth when given its --web.config.file.")
	var (
		target   = cmd.Arg("url", "URL to check, e.g. http://127.0.0.1:9848/-/ready (becomes https:// when the web config turns on TLS).").Required().String()
		cfgFile  = cmd.Flag("web.config.file", "The component's web configuration (TLS, basic auth): the check trusts exactly its server certificate and answers its basic auth.").Default("").String()
		user     = cmd.Flag("healthcheck.user", "Basic auth user (default: the web config's only user).").String()
		password = cmd.Flag("healthcheck.password", "Basic auth password, in plain text (the web config holds only its hash).").Envar("BATCHWATCH_HEALTHCHECK_PASSWORD").String()
		timeout  = cmd.Flag("healthcheck.timeout", "Give up after this long.").Default("5s").Duration()
	)
	return &command{
		clause: cmd,
		run: func(ctx context.Context, _ *logrus.Logger) error {
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			err := web.Check(ctx, *target, web.CheckConfig{WebConfigFile: *cfgFile, Username: *user, Password: *password})
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, "ok")
			return nil
		},
	}
}
