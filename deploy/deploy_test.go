// Package deploy holds the deployment files (systemd unit, Containerfile, Kubernetes manifest); its tests
// check what can be checked without running them.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// TestKubernetesManifest: the manifest parses; it has a Deployment of 2+ replicas with readiness and
// liveness on /healthz, a Service without session affinity, a PodDisruptionBudget, and a Secret holding
// every key the Deployment reads; and the gateway config in the ConfigMap loads, clustered, on PostgreSQL.
func TestKubernetesManifest(t *testing.T) {
	data, err := os.ReadFile("kubernetes/mcpwarden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubernetes/mcpwarden.yaml: %v", err)
		}
		kind, _ := doc["kind"].(string)
		if kind == "" || doc["apiVersion"] == nil {
			t.Fatalf("a document without kind or apiVersion: %v", doc)
		}
		docs[kind] = doc
	}
	for _, k := range []string{"Namespace", "Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if docs[k] == nil {
			t.Errorf("no %s in the manifest", k)
		}
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	dep := docs["Deployment"]
	if n, _ := get(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("Deployment replicas = %v, want 2 or more", get(dep, "spec", "replicas"))
	}
	c := get(dep, "spec", "template", "spec", "containers", 0)
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if p := get(c, probe, "httpGet", "path"); p != "/healthz" {
			t.Errorf("%s path = %v, want /healthz", probe, p)
		}
	}
	if get(c, "securityContext", "readOnlyRootFilesystem") != true || get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the container must run as non-root on a read-only root filesystem")
	}
	if a := get(docs["Service"], "spec", "sessionAffinity"); a != nil && a != "None" {
		t.Errorf("Service sessionAffinity = %v: replicas share sessions, no affinity is needed", a)
	}
	secretKeys, _ := get(docs["Secret"], "stringData").(map[string]any)
	for _, k := range []string{"postgres-dsn", "session.key", "audit-signing.key"} {
		if _, ok := secretKeys[k]; !ok {
			t.Errorf("Secret lacks %q", k)
		}
	}
	if k := get(c, "env", 0, "valueFrom", "secretKeyRef", "key"); k != "postgres-dsn" {
		t.Errorf("the DSN comes from Secret key %v, want postgres-dsn", k)
	}

	// The gateway config in the ConfigMap is valid, with the DSN from the environment.
	cfgText, _ := get(docs["ConfigMap"], "data", "mcpwarden.yaml").(string)
	t.Setenv("MCPWARDEN_POSTGRES_DSN", "postgres://mcpwarden:pw@postgres.db.svc:5432/mcpwarden?sslmode=require")
	cfg, err := config.Parse([]byte(cfgText), "/etc/mcpwarden/mcpwarden.yaml")
	if err != nil {
		t.Fatalf("the ConfigMap's mcpwarden.yaml does not load: %v", err)
	}
	if cfg.Cluster == nil || cfg.Cluster.SessionKeyFile != "/etc/mcpwarden/secret/session.key" || cfg.Audit.Store != "postgres" {
		t.Errorf("config: cluster %+v, audit store %q; want a cluster key file from the Secret and PostgreSQL", cfg.Cluster, cfg.Audit.Store)
	}
}

// TestContainerfile: multi-stage, a static (CGO_ENABLED=0) build, and a final stage that runs as non-root.
func TestContainerfile(t *testing.T) {
	data, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	user := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, line)
			user = ""
		case "USER":
			user = f[1]
		}
	}
	if len(froms) < 2 {
		t.Errorf("want a multi-stage build, got FROM lines %q", froms)
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Error("the build is not static (CGO_ENABLED=0)")
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("the final stage runs as %q, want a non-root user", user)
	}
}

// TestSystemdUnit: systemd-analyze verify accepts the unit (with ExecStart pointing at an existing file),
// and the unit carries its hardening. Where systemd-analyze is not installed, only the second part runs.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("systemd/mcpwarden.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=mcpwarden", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet="} {
		if !strings.Contains(string(data), "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit syntax not verified")
		return
	}
	unit := filepath.Join(t.TempDir(), "mcpwarden.service")
	self, _ := os.Executable()
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/local/bin/mcpwarden"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
