package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"
)

func init() {
	register("version", "print megaflow's version, Go version and platform", runVersion)
}

func runVersion(args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: megaflow version\n\nPrint megaflow's version, the commit it was built from when known, the Go\nversion and the platform. The command takes no flags.")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "megaflow version: unexpected argument %q; the command takes none\n", fs.Arg(0))
		return 2
	}
	printVersion(os.Stdout)
	return 0
}

// printVersion writes one line such as
// "megaflow v0.3.0 (commit 1f11956, go1.26.8, linux/amd64)".
func printVersion(w io.Writer) {
	detail := ""
	if rev := buildRevision(); rev != "" {
		detail = "commit " + rev + ", "
	}
	fmt.Fprintf(w, "megaflow %s (%s%s, %s/%s)\n", version, detail, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
}

// buildRevision returns the short VCS commit the Go toolchain stamped into
// the binary, with "+dirty" for uncommitted changes, or "" when absent
// (as in "go run" and "go test" builds).
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}
