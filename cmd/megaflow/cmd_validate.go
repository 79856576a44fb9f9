package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/megaflow/megaflow/config"
)

func init() {
	register("validate", "check configuration files and report every problem with its line", runValidate)
}

func runValidate(args []string) int {
	return validateFiles(args, os.Stdout, os.Stderr)
}

// validateFiles checks each file named in args as serve would load it:
// decoding, every check of meaning, and compiling the flows. It prints one
// summary line per valid file to stdout and every problem to stderr, and
// returns 0 when all files are valid, 1 when one is not, and 2 for a
// usage error.
func validateFiles(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: megaflow validate FILE...

Check each TOML configuration file as "megaflow serve --config FILE" would
load it, without serving: unknown keys, wrong types, durations without a
unit, bad URLs and ports, references to undefined services, plugins and
flows, cycles, duplicate routes, and plugin files that are missing or not
WebAssembly. Every problem is printed as FILE:LINE:COL: message.

Exit status: 0 when every file is valid, 1 when any is not, 2 for a usage
error. The command takes no flags.`)
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage(err)
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "megaflow validate: name at least one file, such as \"megaflow validate config.toml\"")
		return 2
	}
	status := 0
	for _, path := range files {
		f, err := loadAndCompile(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		fmt.Fprintln(stdout, summarize(path, f))
	}
	return status
}

// loadAndCompile loads path and compiles it without health checks, then
// releases what compiling started, so a file that passes is one serve
// accepts.
func loadAndCompile(path string) (*config.File, error) {
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return f, config.Check(f)
}

// summarize describes a valid file in one line, such as
// "chatqna.toml: valid: 4 services, 0 plugins, 1 flow (4 nodes), 1 route".
func summarize(path string, f *config.File) string {
	nodes := 0
	for _, fl := range f.Flows {
		nodes += len(fl.Nodes)
	}
	return fmt.Sprintf("%s: valid: %s, %s, %s (%s), %s", path,
		count(len(f.Services), "service"), count(len(f.Plugins), "plugin"),
		count(len(f.Flows), "flow"), count(nodes, "node"), count(len(f.Routes), "route"))
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments, which flag.FlagSet alone stops at, and returns the
// positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for range len(args) + 1 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional, args = append(positional, args[0]), args[1:]
	}
	return positional, nil
}
