package host

import (
	"errors"
	"fmt"
)

// ErrorKind classifies why a plugin call failed.
type ErrorKind uint8

const (
	// KindFailed: the hook returned a failure status with a message. The
	// instance stays in the pool.
	KindFailed ErrorKind = iota + 1
	// KindTrap: the guest trapped or exited; the instance is replaced.
	KindTrap
	// KindTimeout: the call ran past PluginOptions.Timeout or the caller's
	// context ended during the call; the instance is replaced.
	KindTimeout
	// KindOutOfMemory: the guest stopped with its memory within 4 MiB of
	// PluginOptions.MaxMemory, or could not allocate an input buffer; the
	// instance is replaced.
	KindOutOfMemory
	// KindProtocol: the guest broke the ABI (a pointer out of bounds, an
	// invalid status, output past PluginOptions.MaxOutput); the instance is
	// replaced.
	KindProtocol
	// KindUnavailable: no instance was acquired, because the caller's
	// context ended first or the plugin is closed.
	KindUnavailable
)

func (k ErrorKind) String() string {
	switch k {
	case KindFailed:
		return "failed"
	case KindTrap:
		return "trap"
	case KindTimeout:
		return "timeout"
	case KindOutOfMemory:
		return "out of memory"
	case KindProtocol:
		return "ABI violation"
	case KindUnavailable:
		return "unavailable"
	}
	return "unknown"
}

// Error is the error every hook method returns. Callers respond to the
// client with Status and a JSON body naming Plugin. Message is safe to show,
// because it is the guest's own failure message or a description of the
// fault.
type Error struct {
	Plugin  string
	Hook    Hook
	Kind    ErrorKind
	Status  int    // HTTP status of the response: the guest's for KindFailed, else 500 or 503
	Message string // the guest's message for KindFailed, else what went wrong
	Err     error  // the underlying wazero or context error, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("plugin %q: %s hook: %s: %s", e.Plugin, e.Hook, e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// errorKindOf returns the Kind of err when it is an *Error, else 0.
func errorKindOf(err error) ErrorKind {
	if err == nil {
		return 0
	}
	if e, ok := err.(*Error); ok {
		return e.Kind
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
