package config

import (
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a configuration file.
type Error struct {
	// File is the path the configuration was read from.
	File string
	// Pos is the position of the problem, or the zero Position when it is
	// unknown.
	Pos Position
	// Message describes what is wrong and how to fix it.
	Message string
}

// Error formats the problem as FILE:LINE:COL: message, leaving out the
// line and column when they are unknown.
func (e *Error) Error() string {
	if !e.Pos.IsValid() {
		return e.File + ": " + e.Message
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Message)
}

// ErrorList is every problem found in one configuration file, in file
// order. Load returns it as its error; use errors.As to get at the list.
type ErrorList []*Error

// Error returns the problems one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the list by position; problems without one go last, in the
// order they were found.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		switch {
		case a.Pos.IsValid() != b.Pos.IsValid():
			if a.Pos.IsValid() {
				return -1
			}
			return 1
		case a.Pos.Line != b.Pos.Line:
			return a.Pos.Line - b.Pos.Line
		default:
			return a.Pos.Col - b.Pos.Col
		}
	})
}

// problems collects the errors of one file as they are found.
type problems struct {
	file string
	list ErrorList
	// failed holds the paths of values already reported as unusable, so
	// later checks skip them instead of reporting the same value again.
	failed map[string]bool
}

func (p *problems) markFailed(path []string) {
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	p.failed[pathKey(path)] = true
}

func (p *problems) hasFailed(path []string) bool { return p.failed[pathKey(path)] }

func (p *problems) add(pos Position, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// err returns the sorted list, or nil when there is no problem.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	p.list.sort()
	return p.list
}
