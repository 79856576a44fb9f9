package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time written as a string with a unit, such as
// "250ms", "2s" or "1m30s". The units are those of Go's time.ParseDuration:
// ns, us, ms, s, m and h. A bare number is rejected because its unit would
// be a guess.
type Duration struct {
	time.Duration
	// raw is the text as written, until Load substitutes ${VAR} references
	// in it and parses it.
	raw string
}

// UnmarshalTOML keeps the text as written; Load parses it once ${VAR}
// references are substituted. Load has checked the TOML type before.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("a duration must be a string with a unit, such as \"2s\"")
	}
	d.raw = s
	return nil
}

// parse sets d from its text. The error message completes a sentence that
// starts with the key's name.
func (d *Duration) parse() error {
	v, err := parseDuration(d.raw)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func parseDuration(raw string) (time.Duration, error) {
	text := strings.TrimSpace(raw)
	if text == "" {
		return 0, fmt.Errorf("is empty; write a duration with a unit, such as \"2s\"")
	}
	if _, err := strconv.ParseFloat(text, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit; write \"%ss\"", raw, text)
	}
	if strings.HasSuffix(text, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(text, "d")); err == nil {
			return 0, fmt.Errorf("%q uses days, which Go durations lack; write \"%dh\"", raw, n*24)
		}
	}
	v, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit (ns, us, ms, s, m, h), such as \"250ms\" or \"1m30s\"", raw)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative; write a positive duration", raw)
	}
	return v, nil
}

// Size is an amount of memory or data in bytes, written either as an
// integer number of bytes or as a string with a unit: "512B", "64KiB",
// "16MiB", "1GiB" (powers of 1024) or "64KB", "16MB", "1GB" (powers of
// 1000). Units ignore case.
type Size struct {
	// Bytes is the size in bytes.
	Bytes int64
	// raw is the string as written; empty when the file gave an integer.
	raw string
	// isText reports that the value was a string, to be parsed by Load.
	isText bool
}

// UnmarshalTOML accepts an integer or a string; Load parses the string once
// ${VAR} references are substituted. Load has checked the TOML type before.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		s.Bytes = v
	case string:
		s.raw, s.isText = v, true
	default:
		return fmt.Errorf("a size must be an integer number of bytes or a string such as \"16MiB\"")
	}
	return nil
}

func (s *Size) parse() error {
	if !s.isText {
		if s.Bytes < 0 {
			return fmt.Errorf("%d is negative; write a positive number of bytes", s.Bytes)
		}
		return nil
	}
	v, err := parseSize(s.raw)
	if err != nil {
		return err
	}
	s.Bytes = v
	return nil
}

// sizeUnits maps each unit, in lower case, to its number of bytes.
var sizeUnits = map[string]int64{
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

func parseSize(raw string) (int64, error) {
	text := strings.TrimSpace(raw)
	digits := 0
	for digits < len(text) && text[digits] >= '0' && text[digits] <= '9' {
		digits++
	}
	unit := strings.ToLower(strings.TrimSpace(text[digits:]))
	if digits == 0 {
		return 0, fmt.Errorf("%q is not a size; write an integer with a unit, such as \"16MiB\", or a number of bytes", raw)
	}
	n, err := strconv.ParseInt(text[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", raw)
	}
	if unit == "" {
		return n, nil
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q; use B, KiB, MiB, GiB, KB, MB or GB", raw, text[digits:])
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", raw)
	}
	return n * mult, nil
}
