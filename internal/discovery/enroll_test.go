package discovery

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tailscale/hujson"
	"gopkg.in/yaml.v3"
)

// copyTree copies testdata/<osName> into a temp dir and returns scan options for the copy.
func copyTree(t *testing.T, osName string) (Options, string) {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(testdataAbs(t), osName)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return Options{OS: osName, Home: filepath.Join(dst, "home"), Root: filepath.Join(dst, "root"),
		Host: Host{Hostname: "h", User: "u", OS: osName}}, dst
}

// snapshot reads every file below dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnrollUnenrollRoundTrip(t *testing.T) {
	for _, osName := range []string{"linux", "darwin", "windows"} {
		t.Run(osName, func(t *testing.T) {
			opts, dir := copyTree(t, osName)
			gwConfig := filepath.Join(t.TempDir(), "mcpwarden.yaml")
			if err := os.WriteFile(gwConfig, []byte("# my gateway\nlisten: 127.0.0.1:9911\nservers:\n  - name: existing\n    command: [\"true\"]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			eo := EnrollOptions{Scan: opts, All: true, GatewayConfig: gwConfig}
			res, err := Enroll(context.Background(), eo)
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, f := range res.Files {
				if f.Changed {
					changed++
				}
			}
			if changed == 0 {
				t.Fatalf("nothing enrolled: %+v", res.Files)
			}
			// Every JSON server is now routed; only unsupported formats remain shadow.
			inv, err := Scan(context.Background(), Options{OS: opts.OS, Home: opts.Home, Root: opts.Root, Gateways: []string{DefaultGatewayURL, "http://127.0.0.1:9911"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range inv.Servers {
				if s.Shadow && s.Scope != ScopeManaged && !(s.Client == "codex" && s.Name == "remote") && s.File != "" && !strings.HasSuffix(s.File, "config.json") {
					t.Errorf("%s/%s in %s is still shadow after enroll (command %q url %q)", s.Client, s.Name, s.File, s.Command, s.URL)
				}
				if s.Routed && s.RoutedVia == "gateway" && !strings.HasPrefix(s.URL, "http://127.0.0.1:9911/mcp/") && !strings.Contains(s.URL, ":8740/mcp/") {
					t.Errorf("%s/%s routed to %q", s.Client, s.Name, s.URL)
				}
			}
			for _, f := range inv.Files {
				if data, err := os.ReadFile(f.Path); err == nil && f.Format == formatJSON {
					if _, err := hujson.Parse(data); err != nil && !strings.Contains(f.Path, ".kiro") {
						t.Errorf("enrolled %s does not parse: %v", f.Path, err)
					}
				}
			}
			gw, err := os.ReadFile(gwConfig)
			if err != nil {
				t.Fatal(err)
			}
			var gc gatewayFile
			if err := yaml.Unmarshal(gw, &gc); err != nil {
				t.Fatalf("gateway config after enroll: %v\n%s", err, gw)
			}
			if !bytes.Contains(gw, []byte("# my gateway")) || gc.Listen != "127.0.0.1:9911" || len(gc.Servers) < 2 || gc.Servers[0].Name != "existing" {
				t.Errorf("gateway config lost content or got no servers:\n%s", gw)
			}
			afterFirst := snapshot(t, dir)
			gwFirst := string(gw)

			// Enrolling twice changes nothing.
			if _, err := Enroll(context.Background(), eo); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(afterFirst, snapshot(t, dir)); diff != "" {
				t.Errorf("second enroll changed client files (-first +second):\n%s", diff)
			}
			if gw2, _ := os.ReadFile(gwConfig); string(gw2) != gwFirst {
				t.Errorf("second enroll changed the gateway config:\n%s", cmp.Diff(gwFirst, string(gw2)))
			}

			// Unenroll restores the exact original bytes and removes backups and manifests.
			ures, err := Unenroll(context.Background(), eo)
			if err != nil {
				t.Fatal(err)
			}
			if ures.Failed() {
				t.Fatalf("unenroll failed: %+v", ures.Files)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("unenroll did not restore the original bytes (-before +after):\n%s", diff)
			}
		})
	}
}

// TestEnrollKeepsUnrelatedContent checks that only the server entries change in a JSONC file.
func TestEnrollKeepsUnrelatedContent(t *testing.T) {
	opts, _ := copyTree(t, "linux")
	settings := filepath.Join(opts.Home, ".config", "Code", "User", "settings.json")
	orig, _ := os.ReadFile(settings)
	gw := filepath.Join(t.TempDir(), "gw.yaml")
	opts.Clients = []string{"vscode"}
	if _, err := Enroll(context.Background(), EnrollOptions{Scan: opts, GatewayConfig: gw, GatewayURL: "http://127.0.0.1:8740"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(settings)
	want := strings.Replace(string(orig), `{"command": "uvx", "args": ["mcp-server-time"]}`,
		"{\n        \"command\": \"mcpwarden\",\n        \"args\": [\n          \"wrap\",\n          \"--config\",\n          "+jsonString(gw)+",\n          \"time\"\n        ]\n      }", 1)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("settings.json after enroll (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(settings + BackupSuffix); !bytes.Equal(b, orig) {
		t.Error("backup does not hold the original bytes")
	}
	var gc gatewayFile
	data, _ := os.ReadFile(gw)
	if err := yaml.Unmarshal(data, &gc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range gc.Servers {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff([]string{"playwright", "time", "git"}, names); diff != "" {
		t.Errorf("gateway servers (-want +got):\n%s\n%s", diff, data)
	}
}

func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"`
}

func TestEnrollRefusesFileChangedSinceRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	os.WriteFile(p, []byte(`{"a":1}`), 0o600)
	h := sha([]byte(`{"a":1}`))
	os.WriteFile(p, []byte(`{"a":2}`), 0o600) // someone edits it meanwhile
	err := writeIfUnchanged(p, h, []byte(`{"a":3}`))
	if !errors.Is(err, ErrChangedSinceRead) {
		t.Fatalf("writeIfUnchanged = %v, want ErrChangedSinceRead", err)
	}
	if b, _ := os.ReadFile(p); string(b) != `{"a":2}` {
		t.Errorf("file was overwritten: %s", b)
	}
}

func TestUnenrollRefusesEditedFile(t *testing.T) {
	opts, _ := copyTree(t, "linux")
	opts.Clients = []string{"cursor"}
	eo := EnrollOptions{Scan: opts, GatewayConfig: filepath.Join(t.TempDir(), "gw.yaml")}
	if _, err := Enroll(context.Background(), eo); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(opts.Home, ".cursor", "mcp.json")
	data, _ := os.ReadFile(p)
	edited := append(data, []byte("\n// user edit\n")...)
	os.WriteFile(p, edited, 0o644)
	res, err := Unenroll(context.Background(), eo)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() {
		t.Fatalf("unenroll of an edited file succeeded: %+v", res.Files)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, edited) {
		t.Error("edited file was overwritten")
	}
	eo.Force = true
	if res, err := Unenroll(context.Background(), eo); err != nil || res.Failed() {
		t.Fatalf("forced unenroll: %v %+v", err, res)
	}
	orig, _ := os.ReadFile(filepath.Join(testdataAbs(t), "linux", "home", ".cursor", "mcp.json"))
	if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
		t.Error("forced unenroll did not restore the original bytes")
	}
}

func TestEnrollNeedsClient(t *testing.T) {
	if _, err := Enroll(context.Background(), EnrollOptions{Scan: Options{Home: t.TempDir()}}); err == nil {
		t.Error("Enroll without --client or --all succeeded")
	}
}

func TestEnrollCodexTOML(t *testing.T) {
	opts, _ := copyTree(t, "linux")
	opts.Clients = []string{"codex"}
	gw := filepath.Join(t.TempDir(), "gw.yaml")
	eo := EnrollOptions{Scan: opts, GatewayConfig: gw}
	res, err := Enroll(context.Background(), eo)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(opts.Home, ".codex", "config.toml")
	got, _ := os.ReadFile(p)
	want := "model = \"o4-mini\"\n\n[mcp_servers.context7]\nargs = [\"wrap\", \"--config\", " + jsonString(gw) + ", \"context7\"]\ncommand = \"mcpwarden\"\n\n" +
		"[mcp_servers.remote]\nurl = \"https://codex.example/mcp\"\nbearer_token_env_var = \"CODEX_REMOTE_TOKEN\"\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("config.toml after enroll (-want +got):\n%s", diff)
	}
	if len(res.Files) != 1 || !res.Files[0].Changed || !strings.Contains(res.Files[0].Error, "CODEX_REMOTE_TOKEN") {
		t.Errorf("result = %+v, want the file changed and the bearer-token server reported", res.Files)
	}
	inv, _ := Scan(context.Background(), opts)
	for _, s := range inv.Servers {
		if s.Name == "context7" && (!s.Routed || s.Command != "mcpwarden") {
			t.Errorf("context7 after enroll: %+v", s)
		}
	}
	if _, err := Enroll(context.Background(), eo); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p); !bytes.Equal(again, got) {
		t.Errorf("second enroll changed config.toml:\n%s", again)
	}
	if res, err := Unenroll(context.Background(), eo); err != nil || res.Failed() {
		t.Fatalf("unenroll: %v %+v", err, res)
	}
	orig, _ := os.ReadFile(filepath.Join(testdataAbs(t), "linux", "home", ".codex", "config.toml"))
	if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
		t.Error("unenroll did not restore config.toml byte for byte")
	}
}

func TestTOMLServerSpan(t *testing.T) {
	doc := "a = 1\n\n[mcp_servers.\"x.y\"]\ncommand = \"c\"\n[mcp_servers.\"x.y\".env]\nK = \"v\"\n\n# next\n[mcp_servers.z]\ncommand = \"d\"\n"
	start, end, ok := tomlServerSpan([]byte(doc), "x.y")
	if !ok || doc[start:end] != "[mcp_servers.\"x.y\"]\ncommand = \"c\"\n[mcp_servers.\"x.y\".env]\nK = \"v\"\n" {
		t.Errorf("span = %q (%v)", doc[start:end], ok)
	}
	start, end, ok = tomlServerSpan([]byte(doc), "z")
	if !ok || doc[start:end] != "[mcp_servers.z]\ncommand = \"d\"\n" {
		t.Errorf("span = %q (%v)", doc[start:end], ok)
	}
	if _, _, ok := tomlServerSpan([]byte(doc), "missing"); ok {
		t.Error("found a missing server")
	}
}

func TestEnrollYAML(t *testing.T) {
	opts, _ := copyTree(t, "linux")
	gooseFile := filepath.Join(opts.Home, ".config", "goose", "config.yaml")
	const gooseDoc = `# Goose config
extensions:
  # the GitHub server
  github:
    # how to start it
    type: stdio
    cmd: npx
    args:
      - -y
      - "@github/github-mcp"
    envs: {GITHUB_TOKEN: "${GITHUB_TOKEN}"}
    enabled: true   # on

  events:
    type: sse
    uri: https://events.example/sse
    enabled: true

GOOSE_MODEL: gpt-4o
`
	if err := os.WriteFile(gooseFile, []byte(gooseDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Clients = []string{"goose", "continue"}
	gw := filepath.Join(t.TempDir(), "gw.yaml")
	eo := EnrollOptions{Scan: opts, GatewayConfig: gw}
	res, err := Enroll(context.Background(), eo)
	if err != nil || res.Failed() {
		t.Fatalf("enroll: %v %+v", err, res)
	}
	wantGoose := `# Goose config
extensions:
  # the GitHub server
  github:
    # how to start it
    type: stdio
    cmd: mcpwarden
    args: [wrap, --config, ` + gw + `, github]
    enabled: true # on

  events:
    type: streamable_http
    uri: http://127.0.0.1:8740/mcp/events
    enabled: true

GOOSE_MODEL: gpt-4o
`
	got, _ := os.ReadFile(gooseFile)
	if diff := cmp.Diff(wantGoose, string(got)); diff != "" {
		t.Errorf("goose config after enroll (-want +got):\n%s", diff)
	}
	wantContinue := "name: Local Assistant\nversion: 1.0.0\nmcpServers:\n  - name: sqlite\n    command: mcpwarden\n    args: [wrap, --config, " + gw + ", sqlite]\n"
	cont := filepath.Join(opts.Home, ".continue", "config.yaml")
	if got, _ := os.ReadFile(cont); string(got) != wantContinue {
		t.Errorf("continue config after enroll (-want +got):\n%s", cmp.Diff(wantContinue, string(got)))
	}
	inv, err := Scan(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range inv.Servers {
		if s.Shadow {
			t.Errorf("%s/%s still shadow after enroll", s.Client, s.Name)
		}
	}
	snap := map[string][]byte{}
	for _, p := range []string{gooseFile, cont} {
		snap[p], _ = os.ReadFile(p)
	}
	if _, err := Enroll(context.Background(), eo); err != nil {
		t.Fatal(err)
	}
	for p, b := range snap {
		if again, _ := os.ReadFile(p); !bytes.Equal(again, b) {
			t.Errorf("second enroll changed %s", p)
		}
	}
	if res, err := Unenroll(context.Background(), eo); err != nil || res.Failed() {
		t.Fatalf("unenroll: %v %+v", err, res)
	}
	if b, _ := os.ReadFile(gooseFile); string(b) != gooseDoc {
		t.Error("unenroll did not restore the goose config byte for byte")
	}
}

// TestEnrollEncodings: a config that starts with a UTF-8 byte order mark is enrolled with the mark kept
// (and unenrolled back to its exact bytes); a UTF-16 config, which discovery reads, is refused with a
// clear error and left untouched.
func TestEnrollEncodings(t *testing.T) {
	t.Run("utf-8 with BOM", func(t *testing.T) {
		opts, _ := copyTree(t, "linux")
		opts.Clients = []string{"cursor"}
		p := filepath.Join(opts.Home, ".cursor", "mcp.json")
		plain, _ := os.ReadFile(p)
		orig := append(bytes.Clone(utf8BOM), plain...)
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		eo := EnrollOptions{Scan: opts, GatewayConfig: filepath.Join(t.TempDir(), "gw.yaml")}
		res, err := Enroll(context.Background(), eo)
		if err != nil || res.Failed() {
			t.Fatalf("enroll: %v %+v", err, res)
		}
		got, _ := os.ReadFile(p)
		if !bytes.HasPrefix(got, utf8BOM) || !bytes.Contains(got, []byte(`"wrap"`)) {
			t.Fatalf("enrolled file lost its BOM or was not rewritten:\n%q", got)
		}
		if _, err := hujson.Parse(got[len(utf8BOM):]); err != nil {
			t.Fatalf("enrolled file does not parse: %v", err)
		}
		if res, err := Unenroll(context.Background(), eo); err != nil || res.Failed() {
			t.Fatalf("unenroll: %v %+v", err, res)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
			t.Error("unenroll did not restore the original bytes")
		}
	})
	t.Run("utf-16 refused", func(t *testing.T) {
		opts, _ := copyTree(t, "linux")
		opts.Clients = []string{"cursor"}
		p := filepath.Join(opts.Home, ".cursor", "mcp.json")
		plain, _ := os.ReadFile(p)
		orig := []byte{0xff, 0xfe}
		for _, r := range string(plain) {
			orig = append(orig, byte(r), byte(r>>8)) // the fixture is ASCII
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Enroll(context.Background(), EnrollOptions{Scan: opts, GatewayConfig: filepath.Join(t.TempDir(), "gw.yaml")})
		if err != nil {
			t.Fatal(err)
		}
		var msg string
		for _, f := range res.Files {
			msg += f.Error
		}
		if !strings.Contains(msg, "UTF-16") || !strings.Contains(msg, "nothing was written") {
			t.Errorf("enroll of a UTF-16 file: errors %q, want the UTF-16 refusal", msg)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, orig) {
			t.Error("the UTF-16 file was changed")
		}
	})
}
