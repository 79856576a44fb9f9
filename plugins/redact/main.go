// Command redact is a megaflow plugin that masks e-mail addresses, phone
// numbers and payment card numbers in text: a simple guardrail, usable as
// a request, response or event hook.
//
// Config:
//
//	kinds       = ["email", "phone", "card"]  # what to mask; default all three
//	replacement = "[redacted]"                # default: "[email]", "[phone]" or "[card]"
//
// Card numbers are 13 to 19 digits, optionally grouped by spaces or
// dashes, that pass the Luhn check. Phone numbers are 10 digits grouped as
// 3-3-4 (optionally with the area code in parentheses) with an optional
// country code, or a "+" followed by 8 to 15 digits. This is pattern
// matching, not a complete PII detector.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	cardPattern  = regexp.MustCompile(`\b(?:\d[ \-]?){12,18}\d\b`)
	phonePattern = regexp.MustCompile(`(?:\+\d{1,3}[ .\-]?)?(?:\(\d{3}\)[ .\-]?|\b\d{3}[ .\-]?)\d{3}[ .\-]?\d{4}\b|\+\d{8,15}\b`)
)

type rule struct {
	kind    string
	pattern *regexp.Regexp
	label   []byte
}

var rules []rule

func init() {
	megaflow.OnInit(configure)
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status { return redact(req.Body) })
	megaflow.OnResponse(redact)
	megaflow.OnEvent(redact)
}

func configure(raw []byte) error {
	cfg := struct {
		Kinds       []string `json:"kinds"`
		Replacement *string  `json:"replacement"`
	}{Kinds: []string{"email", "phone", "card"}}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("redact: invalid config: %v", err)
		}
	}
	// Cards go first, so that their digits are not taken for phone numbers.
	all := []rule{
		{"card", cardPattern, []byte("[card]")},
		{"email", emailPattern, []byte("[email]")},
		{"phone", phonePattern, []byte("[phone]")},
	}
	wanted := map[string]bool{}
	for _, k := range cfg.Kinds {
		if k != "email" && k != "phone" && k != "card" {
			return fmt.Errorf(`redact: kind %q is not "email", "phone" or "card"`, k)
		}
		wanted[k] = true
	}
	rules = rules[:0]
	for _, r := range all {
		if !wanted[r.kind] {
			continue
		}
		if cfg.Replacement != nil {
			r.label = []byte(*cfg.Replacement)
		}
		rules = append(rules, r)
	}
	return nil
}

func redact(input []byte) megaflow.Status {
	text := input
	changed := false
	for _, r := range rules {
		next := r.pattern.ReplaceAllFunc(text, func(match []byte) []byte {
			if r.kind == "card" && !luhnValid(match) {
				return match
			}
			changed = true
			return r.label
		})
		text = next
	}
	if !changed {
		return megaflow.Unchanged
	}
	megaflow.Write(text)
	return megaflow.OK
}

// luhnValid reports whether the digits of s pass the Luhn checksum that
// payment card numbers carry.
func luhnValid(s []byte) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func main() {}
