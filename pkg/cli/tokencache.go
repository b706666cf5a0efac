package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// EnvConfigDir overrides where the CLI keeps its sign-in (default: the
// user's config directory, e.g. ~/.config/elevate).
const EnvConfigDir = "ELEVATE_CONFIG_DIR"

// tokenFileName is the sign-in cache inside the config directory.
const tokenFileName = "token.json"

// session is what `elevate login` caches: enough to call the API and to
// refresh without the browser. It is written with mode 0600 and never
// printed.
type session struct {
	Issuer       string    `json:"issuer"`
	ClientID     string    `json:"clientId"`
	Scopes       []string  `json:"scopes"`
	IDToken      string    `json:"idToken"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	Expiry       time.Time `json:"expiry"`
	Principal    string    `json:"principal,omitempty"`
}

// errNoSession: nobody is signed in on this machine.
var errNoSession = errors.New("not signed in")

func (a *app) configDir() (string, error) {
	if d := a.env.Getenv(EnvConfigDir); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the sign-in cache (set %s): %w", EnvConfigDir, err)
	}
	return filepath.Join(base, "elevate"), nil
}

func (a *app) tokenPath() (string, error) {
	d, err := a.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, tokenFileName), nil
}

func (a *app) loadSession() (*session, string, error) {
	path, err := a.tokenPath()
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, errNoSession
	}
	if err != nil {
		return nil, path, fmt.Errorf("read the sign-in cache: %w", err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil || s.IDToken == "" {
		// Never echo the file: it holds tokens.
		return nil, path, fmt.Errorf("the sign-in cache %s is damaged; run elevate logout, then elevate login", path)
	}
	return &s, path, nil
}

// saveSession replaces the cache atomically: a temporary file created 0600
// in the same directory (itself 0700), renamed over the old one, so no
// reader ever sees a half-written file or a moment of wider permissions.
func (a *app) saveSession(s *session) (string, error) {
	path, err := a.tokenPath()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".token-*.json")
	if err != nil {
		return "", fmt.Errorf("write the sign-in cache: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("write the sign-in cache: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", fmt.Errorf("write the sign-in cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write the sign-in cache: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("write the sign-in cache: %w", err)
	}
	return path, nil
}
