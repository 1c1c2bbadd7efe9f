package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// FuzzParse checks that Parse never panics, that every rejection is a *ValidationError with at least one
// problem and no Config, and that every accepted config passes validation again unchanged.
func FuzzParse(f *testing.F) {
	archives, _ := filepath.Glob("testdata/*.txtar")
	for _, file := range archives {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range ar.Files {
			if strings.HasSuffix(fl.Name, ".yaml") {
				f.Add(fl.Data)
			}
		}
	}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, file := range examples {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("servers: [{name: a, command: [x], env: {K: '${T}$${T}'}, headers: {H: v}}]"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("servers: [&s {name: a, url: 'http://h'}, *s]"))

	env := mapLookup(map[string]string{"HOME": "/home/fuzz", "T": "token"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "/fuzz/config.yaml", env)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *ValidationError", err, err)
			}
			if c != nil {
				t.Fatalf("got a Config alongside an error")
			}
			return
		}
		if len(c.Servers) == 0 {
			t.Fatal("accepted a config without servers")
		}
		again := cloneConfig(c)
		if probs, _ := again.check(env); len(probs) > 0 {
			t.Fatalf("an accepted config fails validation again: %+v", probs)
		}
		again.Warnings = c.Warnings
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("validating an accepted config again changed it (-first +second):\n%s", diff)
		}
	})
}
