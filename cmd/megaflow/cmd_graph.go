package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/megaflow/megaflow/config"
)

func init() {
	register("graph", "print the flows of a configuration file as a Mermaid or Graphviz diagram", runGraph)
}

func runGraph(args []string) int {
	return graphFile(args, os.Stdout, os.Stderr)
}

// graphFile prints the flows of one configuration file as a diagram. It
// returns 0 on success, 1 when the file is invalid or has no such flow,
// and 2 for a usage error.
func graphFile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flow := fs.String("flow", "", "draw only the flow `NAME`, a [flows.NAME] table; empty draws every flow")
	format := fs.String("format", "mermaid", "diagram `FORMAT`: mermaid (a flowchart that GitHub renders in a ```mermaid block) or dot (Graphviz; render with \"dot -Tsvg\")")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: megaflow graph FILE [--flow NAME] [--format mermaid|dot]

Print the flows of a configuration file as a diagram on stdout. Each flow
is a subgraph; a node's box shows its name, its service's type, its
plugins, and whether it streams or is optional. Edges leaving a node with
a route plugin are dashed, because the plugin picks at run time which of
them are taken. The file must pass the checks of "megaflow validate",
except that plugins are only checked to be WebAssembly, not loaded.

Flags:`)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage(err)
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "megaflow graph: name exactly one file, such as \"megaflow graph config.toml\"")
		return 2
	}
	if *format != "mermaid" && *format != "dot" {
		fmt.Fprintf(stderr, "megaflow graph: --format %q is unknown; use %s\n", *format, strings.Join(config.GraphFormats, " or "))
		return 2
	}
	f, err := config.Load(files[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := config.WriteGraph(stdout, f, *flow, *format); err != nil {
		fmt.Fprintf(stderr, "megaflow graph: %v\n", err)
		return 1
	}
	return 0
}
