// Package flagutil contains flag parsing helpers shared by the bench
// commands.
package flagutil

import "flag"

// ParseInterspersed parses flags that may come before, between or after
// positional arguments, which the flag package alone stops at, and returns
// the positional arguments. A lone "--" ends flag parsing.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
