package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/alerts"
)

// pagerCommand runs a local stand-in for the paging service: the demo
// prints the page Alertmanager sent with it.
func pagerCommand(app *kingpin.Application) *command {
	cmd := app.Command("pager", "A local stand-in for a paging service: prints the notifications Alertmanager sends to PagerDuty's Events API (paths ending in /pagerduty) and to webhooks (any other path). For the demo and for trying deploy/alerts/config.yml.")
	listen := cmd.Flag("listen", "Address to listen on (deploy/alerts/config.yml's placeholder receivers use 127.0.0.1:5001).").Default("127.0.0.1:5001").String()
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			ln, err := net.Listen("tcp", *listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			srv := &http.Server{Handler: alerts.NewPager(os.Stdout), ReadHeaderTimeout: 5 * time.Second}
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			log.WithField("listen", ln.Addr().String()).Info("pager listening")
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	}
}
