package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// usageError is a mistake in the command line: main exits 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `bank — the fintech-banking platform

Usage:
  bank serve all|auth|account|transaction|payment|notification [flags]
  bank migrate [flags]
  bank users create --role admin|operator|customer --email EMAIL [--name NAME]
                    (password from stdin, or BANK_USER_PASSWORD)
  bank ledger verify [-o table|json]
  bank bench [--url URL] [--scenario uniform|hot-source|hot-dest|batch|mixed] [-c 64] [-d 10s] [-o table|json] [--plot FILE]
  bank version
  bank help

Every flag has a BANK_* environment variable (flags win); run
"bank serve all -h" to see them. With no configuration, "bank serve all" keeps
its data in ./data (SQLite) and serves on :8080.
`

// run is the whole program: main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return usagef("serve needs a service: all, %s", strings.Join(services, ", "))
		}
		return serve(ctx, rest[0], rest[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "users":
		return users(ctx, rest, getenv, stdin, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "ledger":
		return ledgerCmd(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}

func versionString() string {
	v := "bank " + version
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + info.GoVersion
	}
	return v
}

// parseFlags parses args with fs, turning -h and bad flags into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return usagef("%s", "help requested")
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
