// Package flags is the one thing packages need to register their
// command-line flags: a group of kingpin flags. It keeps the database and
// AWS layers free of the HTTP server's dependencies.
package flags

import "github.com/alecthomas/kingpin/v2"

// Group is satisfied by *kingpin.Application and *kingpin.CmdClause.
type Group interface {
	Flag(name, help string) *kingpin.FlagClause
}
