package injection

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/inspect/pii"
	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// threadCPU is the CPU time of the calling OS thread. The machine is shared, so wall-clock numbers
// swing with load; a benchmark locked to its thread reports this as well.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanCorpus scans every benign fixture per iteration and reports the cost per KB.
func BenchmarkScanCorpus(b *testing.B) {
	for _, dir := range []string{"benign", "injection"} {
		fs := loadCorpus(b, dir)
		n := 0
		for _, f := range fs {
			n += len(f.body)
		}
		b.Run(dir, func(b *testing.B) {
			b.SetBytes(int64(n))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			for b.Loop() {
				for _, f := range fs {
					scanFixture(f)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)*1024/1000, "µs/KB")
			b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N)/float64(n)*1024/1000, "cpu-µs/KB")
		})
	}
}

// result returns about size bytes of an ordinary tool result, cut from the benign corpus.
func result(b *testing.B, size int) string {
	var sb strings.Builder
	for _, f := range loadCorpus(b, "benign") {
		if strings.HasPrefix(f.name, "go-readme-") || strings.HasPrefix(f.name, "log-") || strings.HasPrefix(f.name, "email-") {
			sb.Write(f.body)
		}
		if sb.Len() >= size {
			break
		}
	}
	s := sb.String()[:size]
	for !strings.HasSuffix(s, "\n") && len(s) > 0 && s[len(s)-1] >= 0x80 {
		s = s[:len(s)-1]
	}
	return s
}

// BenchmarkDefaultDetectors is the cost the gateway adds per tool result when it runs the default
// detectors (secrets, PII, injection) on its text: the number to compare with the 60 µs budget.
func BenchmarkDefaultDetectors(b *testing.B) {
	if err := secrets.Init(); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 4 << 10, 10 << 10} {
		text := result(b, size)
		for _, d := range []struct {
			name string
			fn   func(string)
		}{
			{"injection", func(s string) { Scan(s) }},
			{"secrets", func(s string) { secrets.Scan(s) }},
			{"pii", func(s string) { pii.Scan(s) }},
			{"all", func(s string) { Scan(s); secrets.Scan(s); pii.Scan(s) }},
		} {
			b.Run(fmt.Sprintf("%s/%dKB", d.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPU()
				for b.Loop() {
					d.fn(text)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/op")
				b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N)/1000, "cpu-µs/op")
			})
		}
	}
}
