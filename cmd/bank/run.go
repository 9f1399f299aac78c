package main

import (
	"context"
	"errors"
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

// run is the whole program: main only wires it to the process.
// --help anywhere prints to stdout and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return usagef("no command given (see \"bank help\")")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		if len(rest) > 0 && isHelp(rest[0]) {
			fs := flag.NewFlagSet("serve all", flag.ContinueOnError)
			fs.SetOutput(stdout)
			cfg := DefaultConfig()
			return cfg.load(fs, rest[:1], func(string) string { return "" })
		}
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return usagef("serve needs a service: all, %s or web (see \"bank serve --help\")", strings.Join(services, ", "))
		}
		return serve(ctx, rest[0], rest[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "users":
		return group("users", rest, stdout, func(sub string, args []string) error {
			if sub == "unlock" {
				return usersUnlock(ctx, args, getenv, stdout)
			}
			return users(ctx, args, getenv, stdin, stdout, stderr)
		})
	case "approvals":
		return group("approvals", rest, stdout, func(sub string, args []string) error {
			return approvalsCmd(ctx, sub, args, getenv, stdout)
		})
	case "recon":
		return group("recon", rest, stdout, func(sub string, args []string) error {
			return reconCmd(ctx, sub, args, getenv, stdout)
		})
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "ledger":
		return group("ledger", rest, stdout, func(_ string, args []string) error {
			return ledgerCmd(ctx, args, getenv, stdout, stderr)
		})
	case "diagnose":
		return diagnoseCmd(ctx, rest, getenv, stdout)
	case "db":
		return group("db", rest, stdout, func(sub string, args []string) error {
			return dbCmd(ctx, sub, args, getenv, stdout, stderr)
		})
	case "backup":
		return group("backup", rest, stdout, func(sub string, args []string) error {
			return backupCmd(ctx, sub, args, getenv, stdout, stderr)
		})
	case "queue":
		return group("queue", rest, stdout, func(sub string, args []string) error {
			return queueCmd(ctx, sub, args, getenv, stdout)
		})
	case "search":
		return group("search", rest, stdout, func(sub string, args []string) error {
			return searchCmd(ctx, sub, args, getenv, stdout, stderr)
		})
	case "maintenance":
		return group("maintenance", rest, stdout, func(sub string, args []string) error {
			return maintenanceCmd(ctx, sub, args, getenv, stdout)
		})
	case "certs":
		return group("certs", rest, stdout, func(_ string, args []string) error {
			return certsCmd(ctx, args, stdout)
		})
	case "jwt":
		return group("jwt", rest, stdout, func(_ string, args []string) error {
			return jwtRotate(ctx, args, getenv, stdout)
		})
	case "version":
		fs := flag.NewFlagSet("version", flag.ContinueOnError)
		fs.SetOutput(stdout)
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	default:
		return usagef("unknown command %q (see \"bank help\")", cmd)
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

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}
