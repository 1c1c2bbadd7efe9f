package discovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// makeLargeHome builds a home tree of files files: projects/pN/src/dM/fK.txt, with an .mcp.json in every
// tenth project and a client config set at the top.
func makeLargeHome(b *testing.B, files int) string {
	b.Helper()
	home := b.TempDir()
	const perDir = 10
	const dirsPerProject = 10
	n := 0
	for p := 0; n < files; p++ {
		proj := filepath.Join(home, "projects", fmt.Sprintf("p%04d", p))
		for d := 0; d < dirsPerProject && n < files; d++ {
			dir := filepath.Join(proj, "src", fmt.Sprintf("d%02d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for f := 0; f < perDir && n < files; f++ {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		if p%10 == 0 {
			os.WriteFile(filepath.Join(proj, ".mcp.json"), []byte(`{"mcpServers":{"s":{"command":"npx","args":["-y","x-mcp"]}}}`), 0o644)
		}
	}
	os.MkdirAll(filepath.Join(home, ".cursor"), 0o755)
	os.WriteFile(filepath.Join(home, ".cursor", "mcp.json"), []byte(`{"mcpServers":{"a":{"command":"uvx","args":["mcp-server-time"]}}}`), 0o644)
	return home
}

// BenchmarkScanLargeHome scans a 50,000-file home. Run: go test -run '^$' -bench ScanLargeHome -benchtime 3x.
func BenchmarkScanLargeHome(b *testing.B) {
	home := makeLargeHome(b, 50000)
	b.ResetTimer()
	var servers int
	for b.Loop() {
		inv, err := Scan(context.Background(), Options{OS: "linux", Home: home, Root: home})
		if err != nil {
			b.Fatal(err)
		}
		servers = len(inv.Servers)
	}
	b.ReportMetric(float64(servers), "servers")
	if servers != 51 {
		b.Fatalf("found %d servers, want 51 (one per tenth of 500 projects, plus ~/.cursor)", servers)
	}
}
