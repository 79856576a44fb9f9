package config

import (
	"fmt"
	"strings"
)

// expandEnv substitutes environment variables in a string value:
//
//	${NAME}          the value of NAME; an error when NAME is not set
//	${NAME:-default} the value of NAME, or default when NAME is unset or
//	                 empty (as in POSIX sh); default ends at the first "}"
//	$${              a literal "${"
//
// Any other "$" is kept as written. lookup is os.LookupEnv outside tests.
// Each problem returned completes a sentence about the value.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var (
		b        strings.Builder
		problems []string
	)
	for rest := s; rest != ""; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, "$${"):
			b.WriteString("${")
			rest = rest[3:]
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				problems = append(problems, fmt.Sprintf("%q has an unterminated \"${\"; close it with \"}\", or write \"$${\" for a literal \"${\"", s))
				return s, problems
			}
			value, problem := lookupReference(rest[2:end], lookup)
			if problem != "" {
				problems = append(problems, problem)
			}
			b.WriteString(value)
			rest = rest[end+1:]
		default:
			b.WriteByte('$')
			rest = rest[1:]
		}
	}
	return b.String(), problems
}

// lookupReference resolves the text between "${" and "}".
func lookupReference(ref string, lookup func(string) (string, bool)) (string, string) {
	name, def, hasDefault := strings.Cut(ref, ":-")
	if !isEnvName(name) {
		return "", fmt.Sprintf("\"${%s}\" is not a valid variable reference; write ${NAME} or ${NAME:-default}, NAME being letters, digits and _", ref)
	}
	value, set := lookup(name)
	switch {
	case set && (value != "" || !hasDefault):
		return value, ""
	case hasDefault:
		return def, ""
	}
	return "", fmt.Sprintf("environment variable %s is not set; set it or write ${%s:-default}", name, name)
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
