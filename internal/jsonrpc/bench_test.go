package jsonrpc

import (
	"strings"
	"testing"
)

// benchCall is a typical ~200-byte tools/call request.
const benchCall = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"write_file",` +
	`"arguments":{"path":"/home/user/project/notes.md","content":"# Notes\nRemember the milk.","overwrite":true},` +
	`"_meta":{"progressToken":"tok-42"}}}`

// benchResult builds a ~10 KB tools/call result with text content and structured content.
func benchResult() string {
	var sb strings.Builder
	sb.WriteString(`{"jsonrpc":"2.0","id":42,"result":{"content":[`)
	for i := range 40 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"text","text":"line ` + itoa(i) + `: the quick brown fox jumps over the lazy dog \u00e9\u00e8 ` +
			`\"quoted\" and tab\tseparated values, 0123456789 abcdefghijklmnopqrstuvwxyz"}`)
	}
	sb.WriteString(`],"structuredContent":{"rows":[`)
	for i := range 40 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"id":` + itoa(i) + `,"name":"row-` + itoa(i) + `","score":` + itoa(i*37) + `.5,"tags":["a","b"],"ok":true}`)
	}
	sb.WriteString(`]},"isError":false}}`)
	return sb.String()
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"tools_call_200B", []byte(benchCall)},
		{"result_10KB", []byte(benchResult())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := Decode(bc.in); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBenchInputs(t *testing.T) {
	if n := len(benchCall); n < 180 || n > 260 {
		t.Errorf("benchCall is %d bytes, want about 200", n)
	}
	if n := len(benchResult()); n < 9000 || n > 11500 {
		t.Errorf("benchResult is %d bytes, want about 10 KB", n)
	}
}
