package elevate

import (
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Clock is the only source of "now" in the domain's callers.
type Clock func() time.Time

// SystemClock returns the wall clock in UTC at millisecond precision, the
// precision times are stored at, so a value returned on create reads back
// the same later.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// SystemActor is the actor recorded for automatic transitions.
const SystemActor = "system"

const maxPrincipalLen = 254

// NormalizePrincipal lower-cases and validates an email-form principal.
// Principals are compared lower-cased everywhere.
func NormalizePrincipal(p string) (string, error) {
	p = strings.TrimSpace(p)
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			return "", Invalid("principal must be an ASCII email address without spaces or special characters")
		}
	}
	p = strings.ToLower(p)
	if p == "" || len(p) > maxPrincipalLen {
		return "", Invalid("principal must be an email address of at most 254 characters")
	}
	at := strings.IndexByte(p, '@')
	if at <= 0 || at != strings.LastIndexByte(p, '@') || at == len(p)-1 {
		return "", Invalid("principal must be an email address")
	}
	for _, r := range p {
		// ASCII only: Unicode case folding maps look-alikes onto real
		// addresses (the Kelvin sign K lower-cases to k), and principals are
		// compared lower-cased.
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),:;<>[\]/`, r) {
			return "", Invalid("principal must be an ASCII email address without spaces or special characters")
		}
	}
	return p, nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName reports whether s is usable as a scope, task name or group name:
// 1–128 characters, letters, digits, '.', '_' and '-', not starting with a
// punctuation mark. The restriction keeps names safe in URL paths, keys and
// email subjects.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// visibleChars counts the characters of s that are not white space: a
// minimum length is a minimum of something said, which spaces are not.
func visibleChars(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func checkText(field, s string, min, max int) error {
	if n := len([]rune(s)); visibleChars(s) < min || n > max {
		if min > 0 {
			return Invalid(field + " must be between 1 and " + itoa(max) + " characters")
		}
		return Invalid(field + " must be at most " + itoa(max) + " characters")
	}
	for _, r := range s {
		if r < ' ' && r != '\n' && r != '\t' {
			return Invalid(field + " contains control characters")
		}
	}
	return nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
