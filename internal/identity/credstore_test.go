package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/identity"
)

func newCredStore(t *testing.T, dir string) *identity.CredentialStore {
	t.Helper()
	kr, err := identity.LoadKeyring(filepath.Join(dir, identity.CredentialKeyFile), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s, err := identity.NewCredentialStore(filepath.Join(dir, identity.CredentialStoreFile), kr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCredentialStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := newCredStore(t, dir)
	const secret = "ghp_SuperSecretValue123"
	if err := s.Set(ctx, "oidc:alice@https://idp", "github_token", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, "oidc:alice@https://idp", "github_token")
	if err != nil || !ok || string(got) != secret {
		t.Fatalf("Get = %q, %v, %v", got, ok, err)
	}
	if _, ok, err := s.Get(ctx, "oidc:bob@https://idp", "github_token"); ok || err != nil {
		t.Errorf("bob got alice's secret: %v %v", ok, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, identity.CredentialStoreFile))
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString([]byte(secret)))) {
		t.Error("the store file contains the secret in clear")
	}
	for _, f := range []string{identity.CredentialKeyFile, identity.CredentialStoreFile} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, m)
		}
	}
	// A second process (a gateway restart) reads it with the same key file.
	if got, ok, err := newCredStore(t, dir).Get(ctx, "oidc:alice@https://idp", "github_token"); err != nil || !ok || string(got) != secret {
		t.Errorf("reopened store: %q %v %v", got, ok, err)
	}
	infos, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != "github_token" {
		t.Errorf("List = %+v", infos)
	}
	if err := s.Delete(ctx, "oidc:alice@https://idp", "github_token"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "oidc:alice@https://idp", "github_token"); ok {
		t.Error("deleted secret still there")
	}
}

// TestCredentialRecordsBoundToUser: moving alice's ciphertext into bob's slot does not give bob the secret.
func TestCredentialRecordsBoundToUser(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := newCredStore(t, dir)
	if err := s.Set(ctx, "alice", "tok", []byte("alice-secret")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, identity.CredentialStoreFile)
	raw, _ := os.ReadFile(path)
	raw = bytes.ReplaceAll(raw, []byte(`"user": "alice"`), []byte(`"user": "bob"`))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, ok, err := s.Get(ctx, "bob", "tok")
	if ok || err == nil || !strings.Contains(err.Error(), "failed authentication") {
		t.Errorf("Get of a moved record = %v, %v; want an authentication failure", ok, err)
	}
	if strings.Contains(err.Error(), "alice-secret") {
		t.Error("the error reveals the secret")
	}
}

func TestCredentialKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	gateway := newCredStore(t, dir) // loaded before the rotation, like a running gateway
	cli := newCredStore(t, dir)
	for _, u := range []string{"alice", "bob"} {
		if err := cli.Set(ctx, u, "tok", []byte(u+"-secret")); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := cli.List(ctx, "")
	n, err := cli.Rotate(ctx, true)
	if err != nil || n != 2 {
		t.Fatalf("Rotate = %d, %v; want 2 records re-encrypted", n, err)
	}
	after, _ := cli.List(ctx, "")
	for i := range after {
		if after[i].KeyID == before[i].KeyID {
			t.Errorf("record %d still sealed with key %s", i, before[i].KeyID)
		}
	}
	var kf struct {
		Current string            `json:"current"`
		Keys    map[string]string `json:"keys"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, identity.CredentialKeyFile))
	if err := json.Unmarshal(raw, &kf); err != nil {
		t.Fatal(err)
	}
	if len(kf.Keys) != 1 || kf.Current != after[0].KeyID {
		t.Errorf("key file after rotation holds %d keys, current %s; want only the new key %s", len(kf.Keys), kf.Current, after[0].KeyID)
	}
	for _, u := range []string{"alice", "bob"} {
		got, ok, err := gateway.Get(ctx, u, "tok")
		if err != nil || !ok || string(got) != u+"-secret" {
			t.Errorf("running gateway reading %s after rotation: %q %v %v", u, got, ok, err)
		}
	}
}

func TestCredentialKeyFromEnv(t *testing.T) {
	ctx := context.Background()
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	k1, k2 := key(), key()
	dir := t.TempDir()
	open := func(env map[string]string) (*identity.CredentialStore, error) {
		kr, err := identity.LoadKeyring(filepath.Join(dir, identity.CredentialKeyFile), func(k string) string { return env[k] })
		if err != nil {
			return nil, err
		}
		return identity.NewCredentialStore(filepath.Join(dir, identity.CredentialStoreFile), kr)
	}
	s1, err := open(map[string]string{identity.CredentialKeyEnv: k1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Set(ctx, "alice", "tok", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, identity.CredentialKeyFile)); !os.IsNotExist(err) {
		t.Error("a key file was written although the key comes from the environment")
	}
	// New key without the old one: the record cannot be read, and the error says why.
	s2, _ := open(map[string]string{identity.CredentialKeyEnv: k2})
	if _, _, err := s2.Get(ctx, "alice", "tok"); err == nil || !strings.Contains(err.Error(), identity.CredentialOldKeysEnv) {
		t.Errorf("Get with a changed key: %v", err)
	}
	// With the old key listed, rotation re-encrypts under the new one.
	s3, _ := open(map[string]string{identity.CredentialKeyEnv: k2, identity.CredentialOldKeysEnv: k1})
	if n, err := s3.Rotate(ctx, false); err != nil || n != 1 {
		t.Fatalf("Rotate = %d, %v", n, err)
	}
	got, ok, err := s2.Get(ctx, "alice", "tok")
	if diff := cmp.Diff("v", string(got)); diff != "" || !ok || err != nil {
		t.Errorf("after rotation, new key alone: %v %v (-want +got)\n%s", ok, err, diff)
	}
	if _, err := open(map[string]string{identity.CredentialKeyEnv: "short"}); err == nil {
		t.Error("a short key was accepted")
	}
}
