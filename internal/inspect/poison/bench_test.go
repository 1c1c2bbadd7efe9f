package poison

import (
	"syscall"
	"testing"
	"time"
)

// corpusBytes is the size of every text and schema of a corpus, for throughput.
func corpusBytes(fs []fixture) int64 {
	var n int
	for _, f := range fs {
		s := f.Surface
		n += len(s.Instructions)
		for _, t := range s.Tools {
			n += len(t.Name) + len(t.Title) + len(t.Description) + len(t.InputSchema) + len(t.OutputSchema) + len(t.Annotations)
		}
		for _, p := range s.Prompts {
			n += len(p.Name) + len(p.Description)
			for _, a := range p.Arguments {
				n += len(a.Name) + len(a.Description)
			}
		}
		for _, r := range s.Resources {
			n += len(r.Name) + len(r.Description) + len(r.URI)
		}
		for _, r := range s.ResourceTemplates {
			n += len(r.Name) + len(r.Description) + len(r.URITemplate)
		}
	}
	return int64(n)
}

func corpusItems(fs []fixture) int {
	n := 0
	for _, f := range fs {
		s := f.Surface
		n += len(s.Tools) + len(s.Prompts) + len(s.Resources) + len(s.ResourceTemplates)
		if s.Instructions != "" {
			n++
		}
	}
	return n
}

// cpuTime is the process's user+system CPU time: on a shared machine it is a steadier measure than
// wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanCorpus scans every fixture of a corpus per iteration and reports the cost per item
// (one tool, prompt, resource, template or instructions text, with all of its schema strings), as
// wall-clock and as CPU time.
func BenchmarkScanCorpus(b *testing.B) {
	for _, dir := range []string{"benign", "malicious"} {
		fs := loadCorpus(b, dir)
		items := corpusItems(fs)
		b.Run(dir, func(b *testing.B) {
			b.SetBytes(corpusBytes(fs))
			cpu0 := cpuTime()
			for b.Loop() {
				for _, f := range fs {
					Scan(f.Surface, f.Context)
				}
			}
			per := float64(b.N) * float64(items)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/description")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/per, "cpu-ns/description")
		})
	}
}

// BenchmarkScanTypical is one ordinary tool: a two-sentence description and a three-parameter schema.
func BenchmarkScanTypical(b *testing.B) {
	s := Surface{Server: "fs", Tools: []Tool{{
		Name:        "read_text_file",
		Description: "Read the complete contents of a file from the file system as text. Handles various text encodings and provides detailed error messages if the file cannot be read. Only works within allowed directories.",
		InputSchema: []byte(`{"type":"object","properties":{"path":{"type":"string"},"tail":{"type":"number","description":"If provided, returns only the last N lines of the file"},"head":{"type":"number","description":"If provided, returns only the first N lines of the file"}},"required":["path"]}`),
	}}}
	ctx := Context{OtherServers: map[string][]string{"github": {"create_issue", "search_code", "get_file_contents"}}}
	cpu0 := cpuTime()
	for b.Loop() {
		Scan(s, ctx)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
