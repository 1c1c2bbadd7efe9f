package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/*.txtar from the current output")

// TestGolden runs every testdata/*.txtar archive. Each holds:
//   - a comment saying what the case shows;
//   - optionally "env": KEY=VALUE lines, the whole environment the parse sees (default: HOME=/home/user);
//   - one file whose name ends in .yaml: the config, parsed with that name as its path;
//   - "error" (the expected error text) or "config" (the expected Config after defaults, as YAML).
//
// go test ./internal/config -run TestGolden -update rewrites the expected section.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txtar archives")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"HOME": "/home/user"} // unless the archive has an env section
			var cfg *txtar.File
			wantName, want := "", ""
			for i := range ar.Files {
				f := &ar.Files[i]
				switch {
				case f.Name == "env":
					env = map[string]string{}
					for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
						if k, v, ok := strings.Cut(line, "="); ok {
							env[k] = v
						}
					}
				case f.Name == "error" || f.Name == "config":
					wantName, want = f.Name, string(f.Data)
				case strings.HasSuffix(f.Name, ".yaml"):
					cfg = f
				default:
					t.Fatalf("unexpected section %q", f.Name)
				}
			}
			if cfg == nil {
				t.Fatal("no .yaml section")
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

			c, err := parse(cfg.Data, cfg.Name, lookup)
			gotName, got := "config", ""
			if err != nil {
				gotName, got = "error", err.Error()+"\n"
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("error is %T, want *ValidationError", err)
				}
				if c != nil {
					t.Errorf("parse returned a Config with an error: %+v", c)
				}
			} else {
				got = renderConfig(t, c)
				checkIdempotent(t, c, lookup)
			}

			if *update {
				kept := ar.Files[:0]
				for _, f := range ar.Files {
					if f.Name != "error" && f.Name != "config" {
						kept = append(kept, f)
					}
				}
				ar.Files = append(kept, txtar.File{Name: gotName, Data: []byte(got)})
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantName != gotName {
				t.Fatalf("got %s section, want %s (run with -update after checking):\n%s", gotName, wantName, got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", gotName, diff)
			}
		})
	}
}

// renderConfig writes c, with its Path and Warnings, as YAML.
func renderConfig(t *testing.T, c *Config) string {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	err := enc.Encode(struct {
		Path     string   `yaml:"path"`
		Warnings []string `yaml:"warnings,omitempty"`
		Config   *Config  `yaml:"config"`
	}{c.Path, c.Warnings, c})
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkIdempotent checks that an accepted config passes its own validation again unchanged.
func checkIdempotent(t *testing.T, c *Config, lookup lookupFunc) {
	t.Helper()
	again := cloneConfig(c)
	if probs, _ := again.check(lookup); len(probs) > 0 {
		t.Fatalf("an accepted config fails validation again: %+v", probs)
	}
	again.Warnings = c.Warnings
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("validating an accepted config again changed it (-first +second):\n%s", diff)
	}
}

// cloneConfig deep-copies the parts of c that check may change.
func cloneConfig(c *Config) *Config {
	cp := *c
	cp.Servers = append([]Server(nil), c.Servers...)
	return &cp
}
