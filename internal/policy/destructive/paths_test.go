package destructive

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassifyPath(t *testing.T) {
	roots := &Options{Roots: []string{"/work/project", "~/notes"}}
	withHome := &Options{Roots: []string{"/home/ann/project"}, Home: "/home/ann"}
	tests := []struct {
		name string
		raw  string
		opts *Options
		want PathInfo
	}{
		{"inside root", "/work/project/src/main.go", roots, PathInfo{Raw: "/work/project/src/main.go", Clean: "/work/project/src/main.go"}},
		{"root itself", "/work/project", roots, PathInfo{Raw: "/work/project", Clean: "/work/project"}},
		{"sibling prefix is outside", "/work/project2/x", roots, PathInfo{Raw: "/work/project2/x", Clean: "/work/project2/x", OutsideRoots: true}},
		{"traversal out", "/work/project/../../etc/passwd", roots, PathInfo{Raw: "/work/project/../../etc/passwd", Clean: "/etc/passwd", Traversal: true, OutsideRoots: true, Sensitive: true, SensitiveReason: "system config"}},
		{"relative resolved against first root", "src/../README.md", roots, PathInfo{Raw: "src/../README.md", Clean: "/work/project/README.md", Traversal: true}},
		{"relative climbing out", "../../etc/shadow", roots, PathInfo{Raw: "../../etc/shadow", Clean: "/etc/shadow", Traversal: true, OutsideRoots: true, Sensitive: true, SensitiveReason: "system config"}},
		{"tilde marker", "~/notes/a.md", roots, PathInfo{Raw: "~/notes/a.md", Clean: "~/notes/a.md", Home: true}},
		{"tilde ssh", "~/.ssh/id_rsa", roots, PathInfo{Raw: "~/.ssh/id_rsa", Clean: "~/.ssh/id_rsa", Home: true, OutsideRoots: true, Sensitive: true, SensitiveReason: "ssh keys"}},
		{"tilde dotdot", "~/notes/../.aws/credentials", roots, PathInfo{Raw: "~/notes/../.aws/credentials", Clean: "~/.aws/credentials", Home: true, Traversal: true, OutsideRoots: true, Sensitive: true, SensitiveReason: "cloud credentials"}},
		{"home expanded", "~/.kube/config", withHome, PathInfo{Raw: "~/.kube/config", Clean: "/home/ann/.kube/config", Home: true, OutsideRoots: true, Sensitive: true, SensitiveReason: "kubernetes credentials"}},
		{"absolute under home", "/home/ann/.bashrc", withHome, PathInfo{Raw: "/home/ann/.bashrc", Clean: "/home/ann/.bashrc", OutsideRoots: true, Sensitive: true, SensitiveReason: "shell startup"}},
		{"other user ssh", "/home/bob/.ssh/authorized_keys", nil, PathInfo{Raw: "/home/bob/.ssh/authorized_keys", Clean: "/home/bob/.ssh/authorized_keys", Sensitive: true, SensitiveReason: "ssh keys"}},
		{"dotenv", "/work/project/.env", roots, PathInfo{Raw: "/work/project/.env", Clean: "/work/project/.env", Sensitive: true, SensitiveReason: "credentials"}},
		{"dotenv production", "/work/project/.env.production", roots, PathInfo{Raw: "/work/project/.env.production", Clean: "/work/project/.env.production", Sensitive: true, SensitiveReason: "credentials"}},
		{"pem", "/work/project/certs/server.pem", roots, PathInfo{Raw: "/work/project/certs/server.pem", Clean: "/work/project/certs/server.pem", Sensitive: true, SensitiveReason: "private key"}},
		{"filesystem root", "/", nil, PathInfo{Raw: "/", Clean: "/", Sensitive: true, SensitiveReason: "filesystem root"}},
		{"double slashes", "//etc//passwd", nil, PathInfo{Raw: "//etc//passwd", Clean: "/etc/passwd", Sensitive: true, SensitiveReason: "system config"}},
		{"file url", "file:///etc/hosts", nil, PathInfo{Raw: "file:///etc/hosts", Clean: "/etc/hosts", Sensitive: true, SensitiveReason: "system config"}},
		{"windows", `C:\Windows\System32\drivers`, nil, PathInfo{Raw: `C:\Windows\System32\drivers`, Clean: "c:/Windows/System32/drivers", Sensitive: true, SensitiveReason: "system"}},
		{"relative without roots", "docs/a.md", nil, PathInfo{Raw: "docs/a.md", Clean: "docs/a.md", Relative: true}},
		{"plain file no roots", "/srv/data/report.csv", nil, PathInfo{Raw: "/srv/data/report.csv", Clean: "/srv/data/report.csv"}},
		{"root tilde", "~root/.profile", nil, PathInfo{Raw: "~root/.profile", Clean: "/root/.profile", Home: true, Sensitive: true, SensitiveReason: "root home"}},
		{"other user tilde", "~bob/.zshrc", nil, PathInfo{Raw: "~bob/.zshrc", Clean: "/home/bob/.zshrc", Home: true, Sensitive: true, SensitiveReason: "shell startup"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyPath(tc.raw, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("classifyPath(%q) mismatch (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestClassifyFileTools(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"File to operate on"}}}`)
	opts := Options{Roots: []string{"/work/project"}}
	tests := []struct {
		name        string
		tool        string
		path        string
		destructive bool
		readOnly    bool
		op          string
	}{
		{"read inside", "read_file", "/work/project/a.txt", false, true, ""},
		{"read sensitive is not destructive", "read_file", "~/.ssh/id_rsa", false, true, ""},
		{"delete inside", "delete_file", "/work/project/a.txt", true, false, "delete"},
		{"write inside", "write_file", "/work/project/a.txt", false, false, "write"},
		{"write outside", "write_file", "/etc/cron.d/x", true, false, "write"},
		{"write tmp outside roots", "writeFile", "/tmp/scratch.txt", false, false, "write"},
		{"edit traversal", "edit_file", "/work/project/../../root/.bashrc", true, false, "write"},
		{"move", "move_file", "/work/project/a", false, false, "write"},
		{"rm_file", "rm_file", "notes.txt", true, false, "delete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args, _ := json.Marshal(map[string]string{"path": tc.path})
			f := Classify(ToolInfo{Name: tc.tool, InputSchema: schema}, args, opts)
			if len(f.Paths.Paths) != 1 {
				t.Fatalf("paths = %+v, want one", f.Paths.Paths)
			}
			got := []any{f.Destructive, f.ReadOnly, f.Paths.Paths[0].Op}
			want := []any{tc.destructive, tc.readOnly, tc.op}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s(%q) [destructive read_only op] (-want +got):\n%s\nreasons %v", tc.tool, tc.path, diff, f.Reasons)
			}
		})
	}
}
