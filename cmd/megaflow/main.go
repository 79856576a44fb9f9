// Command megaflow is a single-binary edge runtime that serves an HTTP API and
// answers each request by running a DAG of microservice calls.
//
// Each subcommand lives in its own file and registers itself in init, so the
// dispatcher below never needs to change when a command is added.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of the binary.
type command struct {
	// summary is the one-line description shown by "megaflow help".
	summary string
	// run receives the arguments after the subcommand name and returns the
	// process exit code.
	run func(args []string) int
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var commands = map[string]command{}

// register adds a subcommand; it panics on a duplicate name because that is
// a programming error caught by any test run.
func register(name, summary string, run func(args []string) int) {
	if _, dup := commands[name]; dup {
		panic("megaflow: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the subcommand named by args[0]. A bare "megaflow", or one
// whose first argument is a flag, runs "serve".
func dispatch(args []string) int {
	name := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			printUsage()
			return 0
		case "-version", "--version":
			name, args = "version", args[1:]
		default:
			if !strings.HasPrefix(args[0], "-") {
				name, args = args[0], args[1:]
			}
		}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "megaflow: unknown command %q; run \"megaflow help\" for the list\n", name)
		return 2
	}
	return cmd.run(args)
}

func printUsage() {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Println("Usage: megaflow COMMAND [flags]\n\nCommands:")
	for _, name := range names {
		fmt.Printf("  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Println("\nRun \"megaflow COMMAND --help\" for the flags of a command. A bare \"megaflow\" runs \"serve\".")
}
