// Package logging builds the process logger (logrus) from flags and bridges it
// to log/slog for libraries that want a *slog.Logger (exporter-toolkit).
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"
)

// Config holds the logging flags.
type Config struct {
	Level  string
	Format string
}

// AddFlags registers --log.level and --log.format on the application.
func AddFlags(app *kingpin.Application) *Config {
	c := &Config{}
	app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
		Default("info").EnumVar(&c.Level, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages: logfmt or json.").
		Default("logfmt").EnumVar(&c.Format, "logfmt", "json")
	return c
}

// New returns a logrus logger writing to stderr as configured.
func New(c *Config) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	l.SetLevel(lvl)
	if c.Format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{})
	} else {
		l.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	}
	return l, nil
}

// Discard returns a logger that drops everything, for tests.
func Discard() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(devNull{})
	return l
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// Slog adapts a logrus entry to *slog.Logger, for libraries that take one.
func Slog(e *logrus.Entry) *slog.Logger {
	return slog.New(&slogHandler{entry: e})
}

type slogHandler struct {
	entry *logrus.Entry
	group string
}

func (h *slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.entry.Logger.IsLevelEnabled(toLogrus(l))
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	fields := logrus.Fields{}
	r.Attrs(func(a slog.Attr) bool {
		fields[h.key(a.Key)] = a.Value.Any()
		return true
	})
	h.entry.WithFields(fields).Log(toLogrus(r.Level), r.Message)
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := logrus.Fields{}
	for _, a := range attrs {
		fields[h.key(a.Key)] = a.Value.Any()
	}
	return &slogHandler{entry: h.entry.WithFields(fields), group: h.group}
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	return &slogHandler{entry: h.entry, group: h.key(name)}
}

func (h *slogHandler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

func toLogrus(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.InfoLevel
	default:
		return logrus.DebugLevel
	}
}
